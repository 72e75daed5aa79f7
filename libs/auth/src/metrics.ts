import { Counter, Gauge, Registry } from 'prom-client';

/** Token manager metrics, labelled by client. One set per registry. */
export class TokenMetrics {
  readonly requests: Counter<'client' | 'grant'>;
  readonly refreshes: Counter<'client' | 'kind'>;
  readonly failures: Counter<'client' | 'code'>;
  readonly cacheHits: Counter<'client'>;
  readonly secondsToExpiry: Gauge<'client'>;

  constructor(readonly registry: Registry = new Registry()) {
    this.requests = new Counter({
      name: 'lpi_token_requests_total',
      help: 'token endpoint requests',
      labelNames: ['client', 'grant'],
      registers: [registry],
    });
    this.refreshes = new Counter({
      name: 'lpi_token_refreshes_total',
      help: 'token renewals (background or at the hard buffer)',
      labelNames: ['client', 'kind'],
      registers: [registry],
    });
    this.failures = new Counter({
      name: 'lpi_token_failures_total',
      help: 'failed token requests by error code',
      labelNames: ['client', 'code'],
      registers: [registry],
    });
    this.cacheHits = new Counter({
      name: 'lpi_token_cache_hits_total',
      help: 'tokens served from the cache',
      labelNames: ['client'],
      registers: [registry],
    });
    this.secondsToExpiry = new Gauge({
      name: 'lpi_token_seconds_to_expiry',
      help: 'seconds until the cached token expires',
      labelNames: ['client'],
      registers: [registry],
    });
  }
}
