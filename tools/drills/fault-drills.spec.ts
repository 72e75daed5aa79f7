import { bullQueueName, queueKey, secretDataPathOf } from '@lpi/access-matrix';
import { Queue } from 'bullmq';
import { Webhook } from 'standardwebhooks';
import { waitFor } from '@lpi/testing';
import { startStack, type Stack } from '../demo/stack';

// Fault drills: each breaks one part of the running stack on purpose and then checks the
// provider's ledger: no job lost, no payment charged twice.
jest.setTimeout(240_000);

/** Payments as checkout, the caller the access matrix grants POST /payments. */
async function pay(s: Stack, keys: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const key of keys) {
    const res = await s.callers.checkout.post('payment-service', '/payments', key, {
      amount: 1000,
      currency: 'EUR',
    });
    if (res.status !== 202) throw new Error(`POST /payments answered ${res.status}`);
    ids.push(((await res.json()) as { payment_id: string }).payment_id);
  }
  return ids;
}

/** Every payment charged exactly once at the provider, and its event reached reporting. */
async function expectChargedOnce(s: Stack, ids: string[], timeoutMs = 90_000) {
  await waitFor(
    `${ids.length} charges`,
    async () => {
      const ledger = await s.sandbox.admin.ledger();
      const keys = ledger.payments.map((p) => String(p.idempotency_key));
      return ids.every((id) => keys.includes(`charge:${id}`)) ? true : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
  const ledger = await s.sandbox.admin.ledger();
  for (const id of ids)
    expect({
      id,
      charges: ledger.payments.filter((p) => p.idempotency_key === `charge:${id}`).length,
    }).toEqual({ id, charges: 1 });
  await waitFor(
    'payment events at reporting-service',
    async () => {
      const sum = (await (
        await s.callers['finance-dashboard'].fetch('reporting-service', '/reports/summary')
      ).json()) as { payments: { count: number }; reconciled: boolean };
      return sum.reconciled && sum.payments.count === ledger.payments.length ? true : undefined;
    },
    { timeoutMs, intervalMs: 200 },
  );
}

/** A webhook signed with webhook-service's real secret, as the provider sends it; call to send. */
async function signedWebhook(s: Stack, id: string) {
  const kv = (await (
    await fetch(`${s.vault.addr}/v1/${secretDataPathOf('webhook-service')}`, {
      headers: { 'x-vault-token': s.vault.rootToken },
    })
  ).json()) as { data: { data: { webhook_secret: string } } };
  const body = JSON.stringify({
    type: 'payment.succeeded',
    data: { id: 'pp_drill', amount: 1000, currency: 'EUR' },
  });
  const at = new Date();
  const signature = new Webhook(kv.data.data.webhook_secret).sign(id, at, body);
  return () =>
    fetch(`${s.services['webhook-service'].url}/webhooks/provider`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
    });
}

describe('fault drills on a running stack', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({ rateLimitPerMinute: 6000, queueLockMs: 2000 });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('a payment worker killed with SIGKILL in the middle of a provider call, three times: nothing lost, nothing charged twice', async () => {
    await s.sandbox.admin.setFault({ response_delay_ms: 1500 });
    const ids: string[] = [];
    for (let i = 1; i <= 3; i += 1) {
      const [id] = await pay(s, [`kill-${i}`]);
      ids.push(id);
      // the provider has charged, the worker waits for the response: crash now
      await waitFor('the charge to land', async () =>
        (await s.sandbox.admin.ledger()).payments.some((p) => p.idempotency_key === `charge:${id}`)
          ? true
          : undefined,
      );
      await s.crashAndRestart('payment-service');
    }
    await s.sandbox.admin.setFault({ response_delay_ms: 0 });
    await expectChargedOnce(s, ids);
  });

  it('Redis restarted during a run (append-only file on): the queued work survives', async () => {
    // the provider is slow to answer, so while Redis goes away and comes back some jobs are
    // in flight and, with more payments than worker slots, some are still waiting
    await s.sandbox.admin.setFault({ response_delay_ms: 1000 });
    const ids = await pay(
      s,
      Array.from({ length: 12 }, (_, i) => `redis-${i + 1}`),
    );
    // while Redis is down a new request is still taken: stored, and queued once Redis is back
    await s.redis.kill();
    const taken = await s.callers.checkout.post('payment-service', '/payments', 'redis-down', {
      amount: 1000,
      currency: 'EUR',
    });
    expect(taken.status).toBe(202);
    const takenId = ((await taken.json()) as { payment_id: string }).payment_id;
    // its status comes from the database, not from Redis
    const status = await s.callers.checkout.fetch('payment-service', `/payments/${takenId}`);
    expect(status.status).toBe(200);
    // a provider webhook arriving now is taken too (stored once per webhook-id)
    const webhook = await signedWebhook(s, 'msg_redis_down');
    expect((await webhook()).status).toBe(204);
    await s.redis.restart();
    // the outbox queues both once the service has reconnected
    await waitFor(
      'the stored event to be queued',
      async () =>
        (await s.redis.admin().exists(queueKey('provider-events', 'wh-msg_redis_down')))
          ? true
          : undefined,
      { timeoutMs: 30_000 },
    );
    ids.push(takenId);
    // every job is still in Redis after the restart (the AOF replay dropped none)
    const admin = s.redis.admin();
    await waitFor('every payment job in Redis', async () =>
      (await admin.exists(...ids.map((id) => queueKey('payments', id)))) === ids.length
        ? true
        : undefined,
    );
    await s.sandbox.admin.setFault({ response_delay_ms: 0 });
    await expectChargedOnce(s, ids);
  });

  it('5xx and 429 storms: retried with backoff, the rate limit honoured, no retry loop', async () => {
    await s.sandbox.admin.setFault({ api_status: { status: 503, count: 4 } });
    const a = await pay(s, ['storm-5xx-1', 'storm-5xx-2']);
    await expectChargedOnce(s, a);
    await s.sandbox.admin.setFault({ api_status: { status: 429, count: 4 } });
    const b = await pay(s, ['storm-429-1', 'storm-429-2']);
    await expectChargedOnce(s, b);
  });

  it('a 401 storm (the provider revokes every token): one token request per client, not one per request', async () => {
    const before = (await s.sandbox.admin.tokenCounts())['payment-service'] ?? 0;
    await s.sandbox.admin.setFault({ revoke_tokens_issued_before: 'now' });
    const ids = await pay(s, ['revoked-1', 'revoked-2', 'revoked-3', 'revoked-4', 'revoked-5']);
    await expectChargedOnce(s, ids);
    const after = (await s.sandbox.admin.tokenCounts())['payment-service'] ?? 0;
    expect(after - before).toBe(1);
  });

  it('credential rotation under load: zero failed provider calls', async () => {
    const kv = `${s.vault.addr}/v1/${secretDataPathOf('payment-service')}`;
    const headers = { 'x-vault-token': s.vault.rootToken };
    const loadKeys = Array.from({ length: 6 }, (_, i) => `rotation-${i}`);
    const first = await pay(s, loadKeys.slice(0, 3));
    const next = await s.sandbox.admin.rotateSecret('payment-service');
    const current = (
      (await (await fetch(kv, { headers })).json()) as { data: { data: Record<string, string> } }
    ).data.data;
    await fetch(kv, {
      method: 'POST',
      headers,
      body: JSON.stringify({ data: { ...current, client_secret: next } }),
    });
    const second = await pay(s, loadKeys.slice(3));
    // the service polls Vault every 500 ms; retire the old secret once it has switched
    await new Promise((r) => setTimeout(r, 2000));
    await s.sandbox.admin.retirePreviousSecret('payment-service');
    await s.sandbox.admin.setFault({ revoke_tokens_issued_before: 'now' }); // force a token request with the new secret
    const third = await pay(s, ['rotation-after']);
    await expectChargedOnce(s, [...first, ...second, ...third]);
    const refusals = s.sandbox
      .logs()
      .split('\n')
      .filter((l) => l.includes('token request refused') && l.includes('payment-service'));
    expect(refusals).toEqual([]);
  });
});

describe('the authorization server down for longer than a token lifetime', () => {
  let s: Stack;
  beforeAll(async () => {
    s = await startStack({
      rateLimitPerMinute: 6000,
      queueLockMs: 2000,
      tokenTtlSeconds: 3,
      // short waits between retries, so the outage outlasts many of them within the test
      serviceEnv: { JOB_BACKOFF_MS: '100', JOB_BACKOFF_CAP_MS: '400' },
    });
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('delays work without failing it for good, however many retries it takes, and resumes by itself', async () => {
    await s.sandbox.admin.setFault({ token_endpoint: 'down' });
    await new Promise((r) => setTimeout(r, 4000)); // every token has expired
    const ids = await pay(s, ['as-down-1', 'as-down-2']);
    // keep it down until each job has failed more often than a fixed budget of 8 attempts
    const payments = new Queue(bullQueueName('payments'), {
      connection: { host: s.redis.host, port: s.redis.port, ...s.redisAdmin },
    });
    try {
      await waitFor(
        'every job to have failed more than 8 times',
        async () => {
          const jobs = await Promise.all(ids.map((id) => payments.getJob(id)));
          return jobs.every((j) => (j?.attemptsMade ?? 0) > 8) ? true : undefined;
        },
        { timeoutMs: 90_000, intervalMs: 500 },
      );
      expect((await payments.getJobCounts('failed')).failed).toBe(0);
    } finally {
      await payments.close();
    }
    expect((await s.sandbox.admin.ledger()).payments).toHaveLength(0); // delayed, not charged
    await s.sandbox.admin.setFault({ token_endpoint: 'up' });
    await expectChargedOnce(s, ids);
  });
});
