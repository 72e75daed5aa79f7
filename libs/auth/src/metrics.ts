import { Counter, Gauge, Registry } from 'prom-client';

/**
 * Token manager metrics, labelled by client, and the provider's answers to the API calls made
 * with those tokens (`lpi_provider_responses_total`: a 429 storm or 401s show here). One set
 * per registry: the service's own (`METRICS_REGISTRY`), served on `/metrics`.
 */
export class TokenMetrics {
  readonly requests: Counter<'client' | 'grant'>;
  readonly refreshes: Counter<'client' | 'kind'>;
  readonly failures: Counter<'client' | 'code'>;
  readonly cacheHits: Counter<'client'>;
  readonly secondsToExpiry: Gauge<'client'>;
  readonly providerResponses: Counter<'client' | 'status'>;

  private readonly hitProbes: (() => [string, number][])[] = [];
  private readonly expiryProbes: (() => [string, number][])[] = [];

  /**
   * Cache hits are counted by the token manager in a plain integer (the hot path) and
   * handed over here at scrape time as deltas.
   */
  onCollectHits(probe: () => [string, number][]): void {
    this.hitProbes.push(probe);
  }

  /** Seconds to expiry are computed at scrape time, not on every call. */
  onCollectExpiry(probe: () => [string, number][]): void {
    this.expiryProbes.push(probe);
  }

  constructor(readonly registry: Registry = new Registry()) {
    const hitProbes = this.hitProbes;
    const probes = this.expiryProbes;
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
      collect() {
        for (const probe of hitProbes)
          for (const [client, n] of probe()) if (n > 0) this.inc({ client }, n);
      },
    });
    this.providerResponses = new Counter({
      name: 'lpi_provider_responses_total',
      help: "provider API answers by HTTP status ('error': no answer: network, TLS, timeout)",
      labelNames: ['client', 'status'],
      registers: [registry],
    });
    this.secondsToExpiry = new Gauge({
      name: 'lpi_token_seconds_to_expiry',
      help: 'seconds until the cached token expires',
      labelNames: ['client'],
      registers: [registry],
      collect() {
        for (const probe of probes) for (const [client, s] of probe()) this.set({ client }, s);
      },
    });
  }
}
