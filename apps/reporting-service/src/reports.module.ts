import { Controller, Get, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { ServiceRuntime } from '@lpi/integration-runtime';

interface Transaction {
  id: string;
  type: 'payment' | 'refund';
  amount: number;
  currency: string;
}

@Injectable()
class ReportsService implements OnModuleInit {
  readonly payments = new Map<
    string,
    { provider_payment_id: string; amount: number; currency: string }
  >();
  readonly refunds = new Map<
    string,
    { provider_refund_id: string; amount: number; currency: string }
  >();
  readonly providerEvents = new Map<string, string>();

  constructor(private readonly runtime: ServiceRuntime) {}

  onModuleInit(): void {
    const m = this.runtime.messaging;
    m.consume('payment-events', async ({ data }) => {
      if (data.status === 'succeeded')
        this.payments.set(data.payment_id, {
          provider_payment_id: data.provider_payment_id,
          amount: data.amount,
          currency: data.currency,
        });
    });
    m.consume('refund-events', async ({ data }) => {
      if (data.status === 'succeeded')
        this.refunds.set(data.refund_id, {
          provider_refund_id: data.provider_refund_id,
          amount: data.amount,
          currency: data.currency,
        });
    });
    m.consume('provider-events', async ({ data }) => {
      this.providerEvents.set(data.webhook_id, data.event_type);
    });
  }

  /** Every transaction the provider reports (transactions:read), all pages. */
  async providerTransactions(): Promise<Transaction[]> {
    const all: Transaction[] = [];
    let cursor: string | undefined;
    for (;;) {
      const res = await this.runtime.provider.request<{ data: Transaction[]; has_more: boolean }>({
        method: 'GET',
        path: '/v1/transactions',
        query: { limit: '100', ...(cursor ? { starting_after: cursor } : {}) },
      });
      all.push(...res.data.data);
      if (!res.data.has_more || res.data.data.length === 0) return all;
      cursor = res.data.data[res.data.data.length - 1].id;
    }
  }

  async summary() {
    const provider = await this.providerTransactions();
    const ours = {
      payments: [...this.payments.values()].map((p) => p.provider_payment_id).sort(),
      refunds: [...this.refunds.values()].map((r) => r.provider_refund_id).sort(),
    };
    const theirs = {
      payments: provider
        .filter((t) => t.type === 'payment')
        .map((t) => t.id)
        .sort(),
      refunds: provider
        .filter((t) => t.type === 'refund')
        .map((t) => t.id)
        .sort(),
    };
    const sum = (xs: { amount: number }[]) => xs.reduce((a, x) => a + x.amount, 0);
    return {
      payments: { count: ours.payments.length, amount: sum([...this.payments.values()]) },
      refunds: { count: ours.refunds.length, amount: sum([...this.refunds.values()]) },
      provider: { transactions: provider.length, net_amount: sum(provider) },
      provider_events_received: this.providerEvents.size,
      reconciled: JSON.stringify(ours) === JSON.stringify(theirs),
    };
  }
}

@Controller('reports')
class ReportsController {
  constructor(private readonly reports: ReportsService) {}

  @Get('summary')
  summary() {
    return this.reports.summary();
  }
}

@Module({ controllers: [ReportsController], providers: [ReportsService] })
export class ReportsModule {}
