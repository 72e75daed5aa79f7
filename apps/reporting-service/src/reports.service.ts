import { AuthError, RateLimitedError, type ProviderClient } from '@lpi/auth';
import { orUnavailable, type ReportSummary } from '@lpi/integration-runtime';
import type { Envelope } from '@lpi/messaging';
import { AppError } from '@lpi/service-bootstrap';
import type { ProviderTransaction, ReportLedger } from './report-ledger';

const PAGE = 100;

/**
 * What reporting-service knows, kept in its own tables: the results its queues told it, and
 * the provider's transactions, read from where the last read stopped (the cursor is stored
 * too), so a summary reads only what is new however many there are, and every replica and
 * every restart answers the same.
 */
export class ReportsService {
  constructor(
    private readonly provider: Pick<ProviderClient, 'request'>,
    readonly ledger: ReportLedger,
  ) {}

  onPaymentEvent(e: Envelope<'payment-events'>): Promise<void> {
    return this.ledger.recordPayment(e);
  }

  onRefundEvent(e: Envelope<'refund-events'>): Promise<void> {
    return this.ledger.recordRefund(e);
  }

  onProviderEvent(e: Envelope<'provider-events'>): Promise<void> {
    return this.ledger.recordProviderEvent(e);
  }

  /** Reads the provider's transactions after the stored cursor, page by page; 503 on trouble. */
  async syncProviderTransactions(): Promise<void> {
    let cursor = await orUnavailable(this.ledger.cursor(), 'the report cannot be read right now');
    for (;;) {
      const page = await this.providerPage(cursor);
      await orUnavailable(
        this.ledger.storePage(page.data),
        'the report cannot be stored right now',
      );
      if (!page.has_more || page.data.length === 0) return;
      cursor = page.data[page.data.length - 1].id;
    }
  }

  async summary(): Promise<ReportSummary> {
    await this.syncProviderTransactions();
    return orUnavailable(this.ledger.summary(), 'the report cannot be read right now');
  }

  private async providerPage(cursor?: string) {
    let res;
    try {
      res = await this.provider.request<{ data: ProviderTransaction[]; has_more: boolean }>({
        method: 'GET',
        path: '/v1/transactions',
        query: { limit: String(PAGE), ...(cursor ? { starting_after: cursor } : {}) },
      });
    } catch (err) {
      throw providerUnavailable(err);
    }
    if (res.status !== 200 || !Array.isArray(res.data?.data))
      throw providerUnavailable(undefined, res.status);
    return res.data;
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
