// `reportSummaryMs`: GET /reports/summary through the real reporting-service (caller token,
// guard, one provider page read, the totals) with 100,000 provider transactions and as many
// of our own rows stored, against a bare SQL query computing the same totals from the rows.
import { Client } from 'pg';
import { startStack } from '../demo/stack';

const FILL = `
  INSERT INTO reporting.provider_transactions (id, type, amount, currency)
    SELECT 'pp_b' || i, 'payment', 100 + i % 1000, (ARRAY['EUR','USD','GBP'])[1 + i % 3]
    FROM generate_series(1, $1::int * 9 / 10) i;
  INSERT INTO reporting.provider_transactions (id, type, amount, currency)
    SELECT 're_b' || i, 'refund', -(10 + i % 100), (ARRAY['EUR','USD','GBP'])[1 + i % 3]
    FROM generate_series(1, $1::int / 10) i;`;

/** The same totals, straight from the rows, in one statement: what a hand-written report runs. */
export const BARE_TOTALS = `
  SELECT 'payments' AS kind, currency, count(*), sum(amount) FROM reporting.payments GROUP BY currency
  UNION ALL SELECT 'refunds', currency, count(*), sum(amount) FROM reporting.refunds GROUP BY currency
  UNION ALL SELECT 'provider', currency, count(*), sum(amount)
    FROM reporting.provider_transactions GROUP BY currency
  UNION ALL SELECT 'events', '', count(*), 0 FROM reporting.provider_events`;

async function fill(admin: Client, n: number) {
  for (const sql of FILL.split(';').filter((s) => s.trim()))
    await admin.query(sql.replace(/\$1::int/g, String(n)));
  await admin.query(`INSERT INTO reporting.payments (payment_id, provider_payment_id, amount, currency)
    SELECT 'pay_b' || substr(id, 5), id, amount, currency FROM reporting.provider_transactions WHERE type = 'payment'`);
  await admin.query(`INSERT INTO reporting.refunds (refund_id, provider_refund_id, amount, currency)
    SELECT 'ref_b' || substr(id, 5), id, -amount, currency FROM reporting.provider_transactions WHERE type = 'refund'`);
  // the totals as the service would have moved them, row by row
  await admin.query('DELETE FROM reporting.totals');
  await admin.query(`INSERT INTO reporting.totals (kind, currency, count, amount, id_hash)
    SELECT 'payments', currency, count(*), sum(amount), bit_xor(hashtextextended(provider_payment_id, 0)) FROM reporting.payments GROUP BY currency
    UNION ALL SELECT 'refunds', currency, count(*), sum(amount), bit_xor(hashtextextended(provider_refund_id, 0)) FROM reporting.refunds GROUP BY currency
    UNION ALL SELECT 'provider', currency, count(*), sum(amount), bit_xor(hashtextextended(id, 0)) FROM reporting.provider_transactions GROUP BY currency`);
  await admin.query('VACUUM ANALYZE');
}

async function meanMs(rounds: number, work: () => Promise<unknown>): Promise<number> {
  await work();
  const t0 = performance.now();
  for (let i = 0; i < rounds; i += 1) await work();
  return (performance.now() - t0) / rounds;
}

export async function reportSummaryBenchmark(options: {
  transactions: number;
  rounds: number;
  log: (line: string) => void;
}): Promise<{ summaryMs: number; bareMs: number; reconciled: boolean }> {
  options.log('start a stack; store the transactions and our rows');
  const stack = await startStack({ rateLimitPerMinute: 60_000 });
  const admin = new Client({ connectionString: stack.postgres.url() });
  await admin.connect();
  try {
    await fill(admin, options.transactions);
    const finance = stack.callers['finance-dashboard'];
    const summary = async () => {
      const res = await finance.fetch('reporting-service', '/reports/summary');
      if (res.status !== 200) throw new Error(`summary answered ${res.status}`);
      return (await res.json()) as { reconciled: boolean; provider: { transactions: number } };
    };
    const first = await summary();
    if (first.provider.transactions !== options.transactions)
      throw new Error(`summary counted ${first.provider.transactions} transactions`);
    options.log(
      `${options.transactions} transactions stored; timing ${options.rounds} rounds each`,
    );
    const summaryMs = await meanMs(options.rounds, summary);
    const bareMs = await meanMs(options.rounds, () => admin.query(BARE_TOTALS));
    return { summaryMs, bareMs, reconciled: first.reconciled };
  } finally {
    await admin.end();
    await stack.stop();
  }
}
