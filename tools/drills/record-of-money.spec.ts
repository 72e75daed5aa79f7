import { Queue } from 'bullmq';
import { bullQueueName } from '@lpi/access-matrix';
import { waitFor } from '@lpi/testing';
import { startStack, type Stack } from '../demo/stack';

// The merchant's record of money in PostgreSQL, broken on purpose: the database restarted
// under load, every service's database login expiring and replaced under load, reporting
// killed and started again, a second reporting replica, a payment whose job is long gone.
// Each time: nothing lost, nothing charged twice, the same answers.
jest.setTimeout(240_000);

type Summary = { payments: { count: number }; reconciled: boolean; [k: string]: unknown };

async function pay(s: Stack, key: string, amount = 1000) {
  return s.callers.checkout.post('payment-service', '/payments', key, { amount, currency: 'EUR' });
}

async function statusOf(s: Stack, id: string) {
  const res = await s.callers.checkout.fetch('payment-service', `/payments/${id}`);
  return { code: res.status, ...((await res.json()) as { status?: string }) };
}

/** Every id charged exactly once at the provider and settled `succeeded` in its record. */
async function expectSettledOnce(s: Stack, ids: string[]) {
  await waitFor(
    `${ids.length} payments settled`,
    async () => {
      for (const id of ids) if ((await statusOf(s, id)).status !== 'succeeded') return undefined;
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  const ledger = await s.sandbox.admin.ledger();
  const charges = ids.map(
    (id) => ledger.payments.filter((p) => p.idempotency_key === `charge:${id}`).length,
  );
  expect(charges.filter((n) => n !== 1)).toEqual([]);
}

const summary = async (s: Stack, url?: string): Promise<Summary> => {
  const finance = s.callers['finance-dashboard'];
  const caller = url ? finance.at('reporting-service', url) : finance;
  const res = await caller.fetch('reporting-service', '/reports/summary');
  if (res.status !== 200) throw new Error(`summary answered ${res.status}`);
  return (await res.json()) as Summary;
};

describe('the record of money under faults', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      rateLimitPerMinute: 6000,
      queueLockMs: 2000,
      // every login lives 4 s, renewed up to 10 s, then replaced: many rotations per test
      databaseLease: { ttlSeconds: 4, maxTtlSeconds: 10 },
    });
  }, 180_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('PostgreSQL restarted during load: refused as retryable while down, nothing lost, nothing charged twice', async () => {
    await s.sandbox.admin.setFault({ response_delay_ms: 800 });
    const ids: string[] = [];
    for (let i = 0; i < 10; i += 1) {
      const res = await pay(s, `pg-restart-${i}`);
      expect(res.status).toBe(202);
      ids.push(((await res.json()) as { payment_id: string }).payment_id);
    }
    await s.postgres.kill('SIGKILL'); // a crash: the WAL is replayed on start
    const refused = await pay(s, 'pg-down');
    expect({
      status: refused.status,
      code: ((await refused.json()) as { error: { code: string } }).error.code,
      retryAfter: refused.headers.get('retry-after'),
    }).toEqual({ status: 503, code: 'database_unavailable', retryAfter: '1' });
    expect((await statusOf(s, ids[0])).code).toBe(503);
    await s.postgres.restart();
    await s.sandbox.admin.setFault({ response_delay_ms: 0 });
    // the client retries the refused one with the same key, as the 503 told it to
    const retried = await waitFor('the retry to be accepted', async () => {
      const res = await pay(s, 'pg-down');
      return res.status === 202 ? ((await res.json()) as { payment_id: string }) : undefined;
    });
    await expectSettledOnce(s, [...ids, retried.payment_id]);
  });

  it('every login expiring and replaced under load: no failed request, every payment settled once', async () => {
    const ids: string[] = [];
    const failures: number[] = [];
    const started = Date.now();
    for (let i = 0; Date.now() - started < 22_000; i += 1) {
      const res = await pay(s, `lease-${i}`, 100 + i);
      if (res.status !== 202) failures.push(res.status);
      else ids.push(((await res.json()) as { payment_id: string }).payment_id);
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(failures).toEqual([]);
    await expectSettledOnce(s, ids);
    // the service went through several logins while the load ran (4 s leases, 10 s at most)
    const metrics = await (await fetch(`${s.services['payment-service'].url}/metrics`)).text();
    const made = Number(/^lpi_database_logins_total(?:\{[^}]*\})? (\d+)/m.exec(metrics)?.[1] ?? 0);
    expect(made).toBeGreaterThanOrEqual(3);
  });

  it('a payment is answered from its record after its job is gone', async () => {
    const res = await pay(s, 'job-gone');
    const { payment_id } = (await res.json()) as { payment_id: string };
    await expectSettledOnce(s, [payment_id]);
    const payments = new Queue(bullQueueName('payments'), {
      connection: { host: s.redis.host, port: s.redis.port, ...s.redisAdmin },
    });
    try {
      await payments.remove(payment_id);
      expect(await payments.getJob(payment_id)).toBeUndefined();
    } finally {
      await payments.close();
    }
    expect(await statusOf(s, payment_id)).toMatchObject({ code: 200, status: 'succeeded' });
  });

  it('reporting-service killed and started again, and a second replica: the same summary', async () => {
    const before = await waitFor('a reconciled summary', async () => {
      const sum = await summary(s);
      return sum.reconciled && sum.payments.count > 0 ? sum : undefined;
    });
    await s.crashAndRestart('reporting-service');
    expect(await summary(s)).toEqual(before);
    const replica = await s.startReplica('reporting-service');
    expect(await summary(s, replica.url)).toEqual(before);
  });
});
