import type { Queryable } from '@lpi/database';
import type { Envelope } from '@lpi/messaging';

export interface ProviderTransaction {
  id: string;
  type: 'payment' | 'refund';
  amount: number;
  currency: string;
}

/**
 * Moves the running totals by the rows the CTE `ins` (id, amount, currency) inserted; in the
 * same statement as the insert, so a row is counted exactly once (a redelivery inserts nothing).
 */
const MOVE_TOTALS = (kind: string) => `
  INSERT INTO reporting.totals (kind, currency, count, amount, id_hash)
  SELECT '${kind}', currency, count(*), sum(amount), bit_xor(hashtextextended(id, 0))
  FROM ins GROUP BY currency
  ON CONFLICT (kind, currency) DO UPDATE SET
    count = totals.count + EXCLUDED.count,
    amount = totals.amount + EXCLUDED.amount,
    id_hash = totals.id_hash # EXCLUDED.id_hash`;

/**
 * reporting-service's own read model in PostgreSQL (schema `reporting`): the results its
 * queues told it, the provider events, its mirror of the provider's transactions (read
 * incrementally by cursor), and running totals per kind and currency moved by the same
 * statements. Every write is keyed by the event's own id, so a redelivered event or a replica
 * doing the same work changes nothing, and a summary reads a handful of rows at any size.
 */
export class ReportLedger {
  constructor(private readonly db: Queryable) {}

  async recordPayment({ data }: Envelope<'payment-events'>): Promise<void> {
    if (data.status !== 'succeeded') return;
    await this.recordResult('payments', 'payment_id', 'provider_payment_id', [
      data.payment_id,
      data.provider_payment_id,
      data.amount,
      data.currency,
    ]);
  }

  async recordRefund({ data }: Envelope<'refund-events'>): Promise<void> {
    if (data.status !== 'succeeded') return;
    await this.recordResult('refunds', 'refund_id', 'provider_refund_id', [
      data.refund_id,
      data.provider_refund_id,
      data.amount,
      data.currency,
    ]);
  }

  async recordProviderEvent({ data }: Envelope<'provider-events'>): Promise<void> {
    await this.db.query(
      `WITH ins AS (
         INSERT INTO reporting.provider_events (webhook_id, event_type) VALUES ($1, $2)
         ON CONFLICT (webhook_id) DO NOTHING
         RETURNING webhook_id AS id, 0::bigint AS amount, ''::text AS currency)
       ${MOVE_TOTALS('events')}`,
      [data.webhook_id, data.event_type],
    );
  }

  /** One succeeded payment or refund: its row, and the totals moved by it (once per id). */
  private async recordResult(
    kind: 'payments' | 'refunds',
    idColumn: string,
    providerIdColumn: string,
    values: (string | number)[],
  ): Promise<void> {
    await this.db.query(
      `WITH ins AS (
         INSERT INTO reporting.${kind} (${idColumn}, ${providerIdColumn}, amount, currency)
         VALUES ($1, $2, $3, $4) ON CONFLICT (${idColumn}) DO NOTHING
         RETURNING ${providerIdColumn} AS id, amount, currency)
       ${MOVE_TOTALS(kind)}`,
      values,
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
      `WITH ins AS (
         INSERT INTO reporting.provider_transactions (id, type, amount, currency)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
         ON CONFLICT (id) DO NOTHING
         RETURNING id, amount, currency)
       ${MOVE_TOTALS('provider')}`,
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
   * counts and an equal XOR of the ids' 64-bit hashes, both kept in the running totals.
   */
  async summary() {
    const { rows } = await this.db.query<{
      kind: 'payments' | 'refunds' | 'provider' | 'events';
      currency: string;
      count: string;
      amount: string;
      id_hash: string;
    }>('SELECT kind, currency, count, amount, id_hash FROM reporting.totals');
    const of = (kind: string) => {
      const mine = rows.filter((r) => r.kind === kind);
      return {
        count: mine.reduce((n, r) => n + Number(r.count), 0),
        by_currency: Object.fromEntries(
          mine.filter((r) => Number(r.count) > 0).map((r) => [r.currency, Number(r.amount)]),
        ) as Record<string, number>,
        hash: mine.reduce((h, r) => h ^ BigInt(r.id_hash), 0n),
      };
    };
    const [payments, refunds, provider, events] = ['payments', 'refunds', 'provider', 'events'].map(
      of,
    );
    return {
      payments: { count: payments.count, by_currency: payments.by_currency },
      refunds: { count: refunds.count, by_currency: refunds.by_currency },
      provider: { transactions: provider.count, net_by_currency: provider.by_currency },
      provider_events_received: events.count,
      reconciled:
        payments.count + refunds.count === provider.count &&
        (payments.hash ^ refunds.hash) === provider.hash,
    };
  }
}
