import type { ServiceName } from '@lpi/access-matrix';

export type Layer = 'oauth' | 'mtls' | 'vault' | 'redis' | 'database' | 'http' | 'edge';

/** What the drill saw when it tried something: it worked or it did not, and how. */
export interface Outcome {
  allowed: boolean;
  /** `allowed (200)`, `denied: 403 insufficient_scope`, `denied: NOPERM`... */
  actual: string;
}

export interface DrillRow {
  service: ServiceName | 'incident';
  layer: Layer;
  capability: string;
  expected: 'allow' | 'deny';
  actual: string;
  /** Computed from the observation against the expectation; never set by a probe. */
  ok: boolean;
  /** A fixed assertion: holds whatever the matrix says. */
  fixed?: boolean;
}

export interface RowInput {
  service: DrillRow['service'];
  layer: Layer;
  capability: string;
  expected: 'allow' | 'deny';
  outcome: Outcome;
  fixed?: boolean;
}

export const allowed = (what: string): Outcome => ({ allowed: true, actual: `allowed (${what})` });
export const denied = (why: string): Outcome => ({ allowed: false, actual: `denied: ${why}` });

/** An HTTP answer: anything below 300 is the capability working. */
export const httpOutcome = (status: number, code?: string): Outcome =>
  status < 300 ? allowed(String(status)) : denied(`${status}${code ? ` ${code}` : ''}`);

/** A token endpoint answer: a token, or the OAuth error. */
export const tokenOutcome = (res: { status: number; json?: Record<string, string> }): Outcome =>
  res.status === 200 ? allowed('200') : denied(res.json?.error ?? String(res.status));

/** A promise that settles: resolved is allowed; a Redis refusal is named by its code. */
export async function settle(fn: () => Promise<unknown>): Promise<Outcome> {
  return fn().then(
    () => ({ allowed: true, actual: 'allowed' }),
    (err: Error) =>
      denied(/NOPERM/.test(err.message) ? 'NOPERM' : err.message.split('\n')[0].slice(0, 60)),
  );
}

/** Collects rows; `ok` is always the observation held against the expectation. */
export class Rows {
  readonly all: DrillRow[] = [];

  add(input: RowInput): void {
    const { outcome, ...rest } = input;
    const ok = input.expected === 'allow' ? outcome.allowed : !outcome.allowed;
    this.all.push({ ...rest, actual: outcome.actual, ok });
  }

  /** A row-adder bound to one compromised service and one layer. */
  for(service: DrillRow['service'], layer: Layer) {
    return (capability: string, expected: 'allow' | 'deny', outcome: Outcome, fixed?: boolean) =>
      this.add({ service, layer, capability, expected, outcome, fixed });
  }
}
