import type { Queryable } from '@lpi/database';
import type { Envelope } from '@lpi/messaging';

export interface ProviderTransaction {
  id: string;
  type: 'payment' | 'refund';
  amount: number;
  currency: string;
}

type Totals = { count: number; by_currency: Record<string, number>; setHash: string };

/**
 * reporting-service's own read model in PostgreSQL (schema `reporting`): the results its
 * queues told it, the provider events, and its mirror of the provider's transactions, read
 * incrementally by cursor. Every write is an upsert keyed by the event's own id, so a
 * redelivered event or a replica doing the same work changes nothing.
 */
export class ReportLedger {
  constructor(private readonly db: Queryable) {}

  async recordPayment({ data }: Envelope<'payment-events'>): Promise<void> {
    if (data.status !== 'succeeded') return;
    await this.db.query(
      `INSERT INTO reporting.payments (payment_id, provider_payment_id, amount, currency)
       VALUES ($1, $2, $3, $4) ON CONFLICT (payment_id) DO NOTHING`,
      [data.payment_id, data.provider_payment_id, data.amount, data.currency],
    );
  }

  async recordRefund({ data }: Envelope<'refund-events'>): Promise<void> {
    if (data.status !== 'succeeded') return;
    await this.db.query(
      `INSERT INTO reporting.refunds (refund_id, provider_refund_id, amount, currency)
       VALUES ($1, $2, $3, $4) ON CONFLICT (refund_id) DO NOTHING`,
      [data.refund_id, data.provider_refund_id, data.amount, data.currency],
    );
  }

  async recordProviderEvent({ data }: Envelope<'provider-events'>): Promise<void> {
    await this.db.query(
      `INSERT INTO reporting.provider_events (webhook_id, event_type) VALUES ($1, $2)
       ON CONFLICT (webhook_id) DO NOTHING`,
      [data.webhook_id, data.event_type],
    );
  }

  /** Where the mirror of the provider's transactions stops (the last id read). */
  async cursor(): Promise<string | undefined> {
    const { rows } = await this.db.query<{ cursor: string | null }>(
      `SELECT cursor FROM reporting.sync_state WHERE name = 'provider-transactions'`,
    );
    return rows[0]?.cursor ?? undefined;
  }

  /** Stores one page and moves the cursor past it (a page read twice changes nothing). */
  async storePage(page: ProviderTransaction[]): Promise<void> {
    if (!page.length) return;
    await this.db.query(
      `INSERT INTO reporting.provider_transactions (id, type, amount, currency)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
       ON CONFLICT (id) DO NOTHING`,
      [
        page.map((t) => t.id),
        page.map((t) => t.type),
        page.map((t) => t.amount),
        page.map((t) => t.currency),
      ],
    );
    await this.db.query(
      `INSERT INTO reporting.sync_state (name, cursor) VALUES ('provider-transactions', $1)
       ON CONFLICT (name) DO UPDATE SET cursor = EXCLUDED.cursor, updated_at = now()`,
      [page[page.length - 1].id],
    );
  }

  /**
   * The totals per currency, and whether our provider ids are exactly the provider's: equal
   * counts and an equal XOR of the ids' 64-bit hashes, computed in the same scans as the totals
   * (a join of both sets would cost more than the totals themselves at 100,000 rows).
   */
  async summary() {
    const [payments, refunds, provider, events] = await Promise.all([
      this.totals('reporting.payments', 'provider_payment_id'),
      this.totals('reporting.refunds', 'provider_refund_id'),
      this.totals('reporting.provider_transactions', 'id'),
      this.db.query<{ n: string }>('SELECT count(*) AS n FROM reporting.provider_events'),
    ]);
    const ours = xorHex(payments.setHash, refunds.setHash);
    return {
      payments: { count: payments.count, by_currency: payments.by_currency },
      refunds: { count: refunds.count, by_currency: refunds.by_currency },
      provider: { transactions: provider.count, net_by_currency: provider.by_currency },
      provider_events_received: Number(events.rows[0]?.n ?? 0),
      reconciled: payments.count + refunds.count === provider.count && ours === provider.setHash,
    };
  }

  private async totals(table: string, idColumn: string): Promise<Totals> {
    const { rows } = await this.db.query<{
      currency: string;
      n: string;
      amount: string;
      h: string;
    }>(
      `SELECT currency, count(*) AS n, sum(amount) AS amount,
              bit_xor(hashtextextended(${idColumn}, 0)) AS h
       FROM ${table} GROUP BY currency ORDER BY currency`,
    );
    let setHash = '0';
    const by_currency: Record<string, number> = {};
    let count = 0;
    for (const r of rows) {
      count += Number(r.n);
      by_currency[r.currency] = Number(r.amount);
      setHash = xorHex(setHash, r.h);
    }
    return { count, by_currency, setHash };
  }
}

const xorHex = (a: string, b: string) => (BigInt(a) ^ BigInt(b)).toString();
