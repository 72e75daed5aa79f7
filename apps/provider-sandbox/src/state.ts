import type { Logger } from 'pino';
import type { ClientRegistry } from './client-registry';
import type { FaultState } from './faults';
import type { IdempotencyStore, Ledger, RateLimiter } from './ledger';
import type { SandboxConfig } from './sandbox.config';
import type { WebhookDispatcher } from './webhooks';

/** Everything the two listeners share (one process: see docs/adr/0003). */
export class SandboxState {
  constructor(
    readonly config: SandboxConfig,
    readonly registry: ClientRegistry,
    readonly ledger: Ledger,
    readonly idempotency: IdempotencyStore,
    readonly rateLimiter: RateLimiter,
    readonly webhooks: WebhookDispatcher,
    readonly faults: FaultState,
    readonly publicJwk: Record<string, unknown>,
    readonly log: Logger,
  ) {}
}
