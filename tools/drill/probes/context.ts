import type { ServiceName } from '@lpi/access-matrix';
import type { Stack } from '../../demo/stack';
import type { Loot } from '../loot';
import type { Rows } from '../rows';

/** What every probe gets: the running stack, everyone's loot, somewhere to record rows. */
export interface ProbeContext {
  stack: Stack;
  loot: Record<ServiceName, Loot>;
  /** A real provider payment, for refund attempts. */
  paymentId: string;
  rows: Rows;
  print: (line: string) => void;
}

/** One layer's attacks from one compromised service. */
export type Probe = (ctx: ProbeContext, service: ServiceName) => Promise<void>;
