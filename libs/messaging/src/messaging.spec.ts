import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { SERVICE_NAMES, type ServiceName } from '@lpi/access-matrix';
import { startRedisServer, waitFor, type RedisServer } from '@lpi/testing';
import {
  MessagingError,
  PermanentJobError,
  RescheduleJobError,
  createMessaging,
  renderRedisAcl,
  type Messaging,
} from './index';

const passwords = Object.fromEntries(
  SERVICE_NAMES.map((s) => [s, randomBytes(24).toString('base64url')]),
) as Record<ServiceName, string>;
const admin = { username: 'ops-admin', password: randomBytes(24).toString('base64url') };
const prefix = `t${randomBytes(4).toString('hex')}`;
let redis: RedisServer;
const open: Messaging[] = [];

const as = (service: ServiceName, extra: Partial<Parameters<typeof createMessaging>[0]> = {}) => {
  const m = createMessaging({
    service,
    redis: { host: '127.0.0.1', port: redis.port, password: passwords[service] },
    prefix,
    backoffMs: 50,
    lockDurationMs: 2000,
    stalledIntervalMs: 500,
    ...extra,
  });
  open.push(m);
  return m;
};
const pay = (n: number) => ({ payment_id: `pay_${n}`, amount: 1000 + n, currency: 'EUR' });
const aclLog = async () => (await redis.admin().call('ACL', 'LOG')) as unknown[];

beforeAll(async () => {
  redis = await startRedisServer({
    acl: renderRedisAcl({ passwords, admin, prefix }),
    adminUser: admin,
  });
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((m) => m.close()));
});
afterAll(async () => {
  await redis.stop();
});

describe('renderRedisAcl', () => {
  it('holds no plaintext password and no dangerous command', () => {
    const acl = renderRedisAcl({ passwords, prefix });
    for (const pw of Object.values(passwords)) expect(acl).not.toContain(pw);
    expect(acl).toMatch(/^user default off/m);
    for (const banned of [
      '+scan',
      '+keys',
      '+flushall',
      '+flushdb',
      '+config',
      '+debug',
      '+@all',
      '+script',
      '+monitor',
    ])
      expect(acl.split(/\s+/)).not.toContain(banned);
    expect(acl).toContain(`user reporting-service on #`);
  });
});

describe('BullMQ under the generated ACL (every role path, ACL LOG stays empty)', () => {
  it('runs add, process, retry with backoff, delay, reschedule and event fan-out without a single ACL denial', async () => {
    await redis.admin().call('ACL', 'LOG', 'RESET');
    const payment = as('payment-service');
    const reporting = as('reporting-service');
    const seen: string[] = [];
    const attemptsByPayment = new Map<string, number>();
    const events = payment.producer('payment-events');
    payment.consume('payments', async (env, job) => {
      const n = (attemptsByPayment.get(env.data.payment_id) ?? 0) + 1;
      attemptsByPayment.set(env.data.payment_id, n);
      if (env.data.payment_id === 'pay_2' && n === 1) throw new Error('transient provider error');
      if (env.data.payment_id === 'pay_3' && n === 1) throw new RescheduleJobError(100);
      await events.add(
        {
          payment_id: env.data.payment_id,
          provider_payment_id: `pp_${job.id}`,
          status: 'succeeded',
          amount: env.data.amount,
          currency: env.data.currency,
        },
        { jobId: `evt-${env.data.payment_id}`, correlationId: env.correlationId },
      );
    });
    reporting.consume('payment-events', async (env) => {
      seen.push(env.data.payment_id);
    });
    reporting.consume('refund-events', async () => undefined);
    reporting.consume('provider-events', async () => undefined);
    await payment.start();
    await reporting.start();

    const payments = payment.producer('payments');
    await payments.add(pay(1), { jobId: 'pay_1' });
    await payments.add(pay(1), { jobId: 'pay_1' }); // duplicate business key: no second job
    await payments.add(pay(2), { jobId: 'pay_2' });
    await payments.add(pay(3), { jobId: 'pay_3' });
    await payments.add(pay(4), { jobId: 'pay_4', delayMs: 200 });

    await waitFor('four payment events', async () => (seen.length >= 4 ? true : undefined));
    expect([...seen].sort()).toEqual(['pay_1', 'pay_2', 'pay_3', 'pay_4']);
    expect(attemptsByPayment.get('pay_1')).toBe(1);
    expect(attemptsByPayment.get('pay_2')).toBe(2);
    expect(await aclLog()).toEqual([]);
  });

  it('fails a permanent error once, without retries', async () => {
    const payment = as('payment-service');
    let calls = 0;
    payment.consume('payments', async () => {
      calls += 1;
      throw new PermanentJobError('provider said 400 invalid_parameters');
    });
    await payment.start();
    await payment.producer('payments').add(pay(9), { jobId: 'pay_9' });
    await waitFor('the job to fail', async () =>
      (await payment.counts('payments')).failed >= 1 ? true : undefined,
    );
    expect(calls).toBe(1);
    expect(await aclLog()).toEqual([]);
  });

  it('recovers a job whose worker was killed with SIGKILL mid-job', async () => {
    const payment = as('payment-service', { lockDurationMs: 1000, stalledIntervalMs: 500 });
    await payment.producer('payments').add(pay(7), { jobId: 'pay_7' });
    const child = spawn(
      process.execPath,
      [
        '-r',
        '@swc-node/register',
        join(__dirname, 'test', 'stalled-worker.fixture.ts'),
        String(redis.port),
        passwords['payment-service'],
        prefix,
      ],
      {
        cwd: join(__dirname, '..', '..', '..'),
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    await waitFor(
      'the child worker to pick the job',
      async () => (out.includes('picked pay_7') ? true : undefined),
      { timeoutMs: 30_000 },
    );
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));

    const rerun: number[] = [];
    payment.consume('payments', async (_env, job) => {
      rerun.push(job.attemptsStarted);
    });
    await payment.start();
    await waitFor(
      'the stalled job to run again',
      async () => (rerun.length > 0 ? true : undefined),
      { timeoutMs: 30_000 },
    );
    expect(rerun[0]).toBeGreaterThanOrEqual(2);
    expect(await aclLog()).toEqual([]);
  });
});

describe('denials', () => {
  it('refuses, in the library, to produce or consume outside the grant', () => {
    const reporting = as('reporting-service');
    expect(() => reporting.producer('payments' as never)).toThrow(MessagingError);
    expect(() => reporting.consume('payments', async () => undefined)).toThrow(/may not consume/);
  });

  it('refuses to start with a consumed queue lacking a handler', async () => {
    const reporting = as('reporting-service');
    reporting.consume('payment-events', async () => undefined);
    await expect(reporting.start()).rejects.toMatchObject({ code: 'HANDLER_MISSING' });
  });

  it('rejects payloads that break the contract or carry secret-shaped values', () => {
    const payment = as('payment-service');
    expect(() =>
      payment.wrap('payments', { payment_id: 'pay_1', amount: 10.5, currency: 'EUR' }),
    ).toThrow(/CONTRACT|integer/);
    expect(() =>
      payment.wrap('payments', {
        payment_id: 'pay_1',
        amount: 10,
        currency: 'EUR',
        description: 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig',
      }),
    ).toThrow(/looks like a JWT/);
  });

  it('denies a compromised reporting-service at Redis itself: NOPERM on another queue, nothing written', async () => {
    // bypass the library: raw BullMQ with reporting-service's real Redis credentials
    const conn = new Redis({
      port: redis.port,
      username: 'reporting-service',
      password: passwords['reporting-service'],
      maxRetriesPerRequest: 1,
    });
    const q = new Queue('payments', { connection: conn, prefix });
    q.on('error', () => undefined);
    await expect(
      q.add('payment.requested', { payment_id: 'pay_evil' }, { jobId: 'pay_evil' }),
    ).rejects.toThrow(/NOPERM/);
    for (const cmd of [
      ['SCAN', '0'],
      ['KEYS', '*'],
      ['CONFIG', 'GET', '*'],
      ['FLUSHALL'],
      ['SCRIPT', 'FLUSH'],
      ['CLIENT', 'LIST'],
      ['ACL', 'LIST'],
    ]) {
      await expect(conn.call(cmd[0], ...cmd.slice(1))).rejects.toThrow(/NOPERM/);
    }
    await expect(conn.call('DEL', `${prefix}:payments:wait`)).rejects.toThrow(/NOPERM/);
    await q.close();
    conn.disconnect();
    expect(await redis.admin().exists(`${prefix}:payments:pay_evil`)).toBe(0);
    const log = (await aclLog()) as unknown[][];
    expect(log.length).toBeGreaterThan(0);
  });
});
