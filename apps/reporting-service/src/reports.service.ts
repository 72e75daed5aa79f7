import { AuthError, RateLimitedError, type ProviderClient } from '@lpi/auth';
import type { ReportSummary } from '@lpi/integration-runtime';
import type { Envelope } from '@lpi/messaging';
import { AppError } from '@lpi/service-bootstrap';

export interface Transaction {
  id: string;
  type: 'payment' | 'refund';
  amount: number;
  currency: string;
}

type Money = { amount: number; currency: string };

/**
 * What reporting-service knows: the results its queues told it, reconciled on request
 * against every transaction the provider reports (transactions:read).
 */
export class ReportsService {
  readonly payments = new Map<string, Money & { provider_payment_id: string }>();
  readonly refunds = new Map<string, Money & { provider_refund_id: string }>();
  readonly providerEvents = new Map<string, string>();

  constructor(private readonly provider: Pick<ProviderClient, 'request'>) {}

  async onPaymentEvent({ data }: Envelope<'payment-events'>): Promise<void> {
    if (data.status === 'succeeded')
      this.payments.set(data.payment_id, {
        provider_payment_id: data.provider_payment_id,
        amount: data.amount,
        currency: data.currency,
      });
  }

  async onRefundEvent({ data }: Envelope<'refund-events'>): Promise<void> {
    if (data.status === 'succeeded')
      this.refunds.set(data.refund_id, {
        provider_refund_id: data.provider_refund_id,
        amount: data.amount,
        currency: data.currency,
      });
  }

  async onProviderEvent({ data }: Envelope<'provider-events'>): Promise<void> {
    this.providerEvents.set(data.webhook_id, data.event_type);
  }

  /** Every transaction the provider reports, all pages; provider trouble is a 503. */
  async providerTransactions(): Promise<Transaction[]> {
    const all: Transaction[] = [];
    let cursor: string | undefined;
    for (;;) {
      let res;
      try {
        res = await this.provider.request<{ data: Transaction[]; has_more: boolean }>({
          method: 'GET',
          path: '/v1/transactions',
          query: { limit: '100', ...(cursor ? { starting_after: cursor } : {}) },
        });
      } catch (err) {
        throw providerUnavailable(err);
      }
      if (res.status !== 200 || !Array.isArray(res.data?.data))
        throw providerUnavailable(undefined, res.status);
      all.push(...res.data.data);
      if (!res.data.has_more || res.data.data.length === 0) return all;
      cursor = res.data.data[res.data.data.length - 1].id;
    }
  }

  async summary(): Promise<ReportSummary> {
    const provider = await this.providerTransactions();
    const ours = {
      payments: [...this.payments.values()].map((p) => p.provider_payment_id).sort(),
      refunds: [...this.refunds.values()].map((r) => r.provider_refund_id).sort(),
    };
    const ids = (type: Transaction['type']) =>
      provider
        .filter((t) => t.type === type)
        .map((t) => t.id)
        .sort();
    const theirs = { payments: ids('payment'), refunds: ids('refund') };
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

/**
 * The provider cannot answer a synchronous read right now: a 503 with Retry-After (the
 * provider's own wait for a 429), never a 500. The cause is logged by the token manager
 * and visible in its metrics; the caller learns only that it should retry.
 */
export function providerUnavailable(err: unknown, status?: number): AppError {
  if (err instanceof RateLimitedError) {
    const seconds = Math.max(1, Math.ceil(err.retryAfterMs / 1000));
    return new AppError(
      503,
      'api_error',
      'provider_rate_limited',
      `the provider is rate limiting this service; retry in ${seconds} s`,
      { 'Retry-After': String(seconds) },
    );
  }
  const why =
    err instanceof AuthError
      ? err.code
      : status !== undefined
        ? `provider answered ${status}`
        : 'provider unreachable';
  return new AppError(
    503,
    'api_error',
    'provider_unavailable',
    `the provider cannot be read right now (${why}); retry shortly`,
    { 'Retry-After': '5' },
  );
}
