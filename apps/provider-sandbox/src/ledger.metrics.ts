import { Inject, Injectable } from '@nestjs/common';
import { Gauge, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '@lpi/service-bootstrap';
import { SandboxState } from './state';

/**
 * The ledger's totals on the API listener's `/metrics`, computed when Prometheus scrapes:
 * what the provider charged and refunded, per currency (no ids, no client names).
 */
@Injectable()
export class LedgerMetrics {
  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(SandboxState) state: SandboxState,
  ) {
    const ledger = state.ledger;
    new Gauge({
      name: 'lpi_provider_ledger_amount',
      help: 'sum of the amounts in the ledger, in minor units, by kind (payment, refund) and currency',
      labelNames: ['kind', 'currency'],
      registers: [registry],
      collect() {
        this.reset();
        for (const t of ledger.totals()) this.set({ kind: t.kind, currency: t.currency }, t.amount);
      },
    });
    new Gauge({
      name: 'lpi_provider_ledger_entries',
      help: 'entries in the ledger by kind (payment, refund) and currency',
      labelNames: ['kind', 'currency'],
      registers: [registry],
      collect() {
        this.reset();
        for (const t of ledger.totals())
          this.set({ kind: t.kind, currency: t.currency }, t.entries);
      },
    });
  }
}
