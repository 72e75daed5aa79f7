import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SpanKind, context, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import {
  QUEUE_NAMES,
  SERVICE_NAMES,
  type QueueName,
  type ServiceName,
  bullQueueName,
  consumersOf,
  grantOf,
  producersOf,
} from '@lpi/access-matrix';
import { startRedisServer, waitFor, type RedisServer } from '@lpi/testing';
import {
  BULLMQ_SCRIPTS,
  EvalshaOnlyRedis,
  MessagingError,
  PermanentJobError,
  RescheduleJobError,
  createMessaging,
  envelopeSchema,
  findSecretShape,
  isRedisUnavailable,
  loadBullmqScripts,
  renderRedisAcl,
  type JobData,
  type JobLogEvent,
  type JobRun,
  type Messaging,
} from './index';

const passwords = Object.fromEntries(
  SERVICE_NAMES.map((s) => [s, randomBytes(24).toString('base64url')]),
) as Record<ServiceName, string>;
const admin = { username: 'ops-admin', password: randomBytes(24).toString('base64url') };
const loader = { username: 'script-loader', password: randomBytes(24).toString('base64url') };
const prefix = `t${randomBytes(4).toString('hex')}`;
let redis: RedisServer;
const open: Messaging[] = [];
const children: ChildProcess[] = [];

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
/** One valid payload per queue, with a unique business key from `n`. */
const SAMPLES: { [Q in QueueName]: (n: string) => JobData<Q> } = {
  payments: (n) => ({ payment_id: `pay_${n}`, amount: 1250, currency: 'EUR' }),
  'payment-events': (n) => ({
    payment_id: `pay_${n}`,
    provider_payment_id: `pp_${n}`,
    status: 'succeeded',
    amount: 1250,
    currency: 'EUR',
  }),
  refunds: (n) => ({
    refund_id: `ref_${n}`,
    provider_payment_id: `pp_${n}`,
    amount: 500,
    currency: 'EUR',
  }),
  'refund-events': (n) => ({
    refund_id: `ref_${n}`,
    provider_refund_id: `pr_${n}`,
    provider_payment_id: `pp_${n}`,
    status: 'failed',
    amount: 500,
    currency: 'EUR',
    failure_code: 'insufficient_funds',
  }),
  'provider-events': (n) => ({
    webhook_id: `msg_${n}`,
    event_type: 'payment.succeeded',
    object_id: `pp_${n}`,
    amount: 1250,
    currency: 'EUR',
  }),
};
const pay = (n: number) => ({ payment_id: `pay_${n}`, amount: 1000 + n, currency: 'EUR' });
const aclLog = async () => (await redis.admin().call('ACL', 'LOG')) as unknown[];
const chunk = (flat: unknown[]) =>
  flat.flatMap((v, i) => (i % 2 === 0 ? [[v, flat[i + 1]] as [unknown, unknown]] : []));

beforeAll(async () => {
  redis = await startRedisServer({
    acl: renderRedisAcl({ passwords, admin, scriptLoader: loader, prefix }),
    adminUser: admin,
    afterStart: loadBullmqScripts,
  });
});
afterEach(async () => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  await Promise.all(open.splice(0).map((m) => m.close()));
});
afterAll(async () => {
  await redis.stop();
});

describe('renderRedisAcl', () => {
  it('holds no plaintext password and no dangerous command', () => {
    const acl = renderRedisAcl({ passwords, prefix });
    for (const pw of Object.values(passwords)) expect(acl).not.toContain(pw);
    // the default user: disabled and without a password (its permissions: see DEFAULT_USER_LINE)
    const [defaultUser, ...serviceUsers] = acl.trim().split('\n');
    expect(defaultUser.split(' ').slice(0, 4)).toEqual(['user', 'default', 'off', 'resetpass']);
    expect(defaultUser).not.toMatch(/ on( |$)| nopass| >| #/);
    for (const banned of [
      '+scan',
      '+keys',
      '+flushall',
      '+flushdb',
      '+config',
      '+debug',
      '+@all',
      '+script',
      '+eval',
      '+eval_ro',
      '+function',
      '+fcall',
      '+fcall_ro',
      '+monitor',
    ])
      for (const line of serviceUsers) expect(line.split(/\s+/)).not.toContain(banned);
    expect(acl).toContain(`user reporting-service on #`);
  });

  it('gives each service key patterns for exactly the queues the matrix grants it', () => {
    const acl = renderRedisAcl({ passwords, prefix });
    for (const service of SERVICE_NAMES) {
      const line = acl.split('\n').find((l) => l.startsWith(`user ${service} `)) ?? '';
      const keyPatterns = line.split(' ').filter((t) => t.startsWith('~') || t.startsWith('%'));
      const { produces, consumes } = grantOf(service).queues;
      const granted = [...new Set([...produces, ...consumes])].map((q) => `~${prefix}:{${q}}:*`);
      expect({ service, keyPatterns: keyPatterns.sort() }).toEqual({
        service,
        keyPatterns: granted.sort(),
      });
      expect(line).not.toMatch(/ &| allchannels| allkeys| >/);
    }
  });
});

describe('BullMQ under the generated ACL (every role path, ACL LOG stays empty)', () => {
  it('lets every producer of every queue add, its one consumer process under a limiter, and both watch events', async () => {
    await redis.admin().call('ACL', 'LOG', 'RESET');
    const services = new Map(SERVICE_NAMES.map((s) => [s, as(s)]));
    const processed = new Map<QueueName, string[]>(QUEUE_NAMES.map((q) => [q, []]));
    const completed = new Map<string, string[]>();

    for (const [service, m] of services) {
      for (const queue of grantOf(service).queues.consumes) {
        m.consume(
          queue,
          async (env) => {
            expect(env.version).toBe(1);
            processed.get(queue)?.push(JSON.stringify(env.data));
          },
          { concurrency: 2, limiter: { max: 50, durationMs: 1000 } },
        );
      }
      for (const queue of new Set([
        ...grantOf(service).queues.produces,
        ...grantOf(service).queues.consumes,
      ])) {
        const seen: string[] = [];
        completed.set(`${service}/${queue}`, seen);
        (await m.events(queue)).on('completed', (jobId) => seen.push(jobId));
      }
      await m.start();
    }

    const expected = new Map<QueueName, string[]>(QUEUE_NAMES.map((q) => [q, []]));
    for (const queue of QUEUE_NAMES) {
      for (const producer of producersOf(queue)) {
        const key = `${producer.replace(/-/g, '')}${queue.replace(/-/g, '')}`;
        const data = SAMPLES[queue](key);
        await services
          .get(producer)
          ?.producer(queue)
          .add(data, { jobId: `job-${key}` });
        expected.get(queue)?.push(JSON.stringify(data));
      }
    }

    for (const queue of QUEUE_NAMES) {
      await waitFor(`${queue} processed by ${consumersOf(queue).join()}`, async () =>
        (processed.get(queue)?.length ?? 0) >= (expected.get(queue)?.length ?? 0)
          ? true
          : undefined,
      );
      expect(processed.get(queue)?.sort()).toEqual(expected.get(queue)?.sort());
    }
    for (const [watcher, seen] of completed) {
      const queue = watcher.split('/')[1] as QueueName;
      const jobs = producersOf(queue).map(
        (p) => `job-${p.replace(/-/g, '')}${queue.replace(/-/g, '')}`,
      );
      await waitFor(`completed events at ${watcher}`, async () =>
        jobs.every((j) => seen.includes(j)) ? true : undefined,
      );
    }
    expect(await aclLog()).toEqual([]);
  });

  it('runs add, process, retry with backoff, delay, reschedule and event fan-out without a single ACL denial', async () => {
    await redis.admin().call('ACL', 'LOG', 'RESET');
    const runs: JobRun[] = [];
    const payment = as('payment-service', { onJobRun: (run) => runs.push(run) });
    const reporting = as('reporting-service');
    const seen: string[] = [];
    const attemptsByPayment = new Map<string, number>();
    const attemptsMadeOnRun = new Map<string, number[]>();
    const events = payment.producer('payment-events');
    payment.consume('payments', async (env, job) => {
      const n = (attemptsByPayment.get(env.data.payment_id) ?? 0) + 1;
      attemptsByPayment.set(env.data.payment_id, n);
      attemptsMadeOnRun.set(env.data.payment_id, [
        ...(attemptsMadeOnRun.get(env.data.payment_id) ?? []),
        job.attemptsMade,
      ]);
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
      return { provider_payment_id: `pp_${job.id}` };
    });
    reporting.consume('payment-events', async (env) => {
      seen.push(env.data.payment_id);
    });
    reporting.consume('refund-events', async () => undefined);
    reporting.consume('provider-events', async () => undefined);
    await payment.start();
    await reporting.start();

    const payments = payment.producer('payments');
    expect(await payments.add(pay(1), { jobId: 'pay_1' })).toEqual({ id: 'pay_1', created: true });
    // the same business key and payload again: no second job
    expect(await payments.add(pay(1), { jobId: 'pay_1' })).toEqual({ id: 'pay_1', created: false });
    // a caller that checked the payload itself (a stored fingerprint): no read back, no verdict
    expect(await payments.add(pay(1), { jobId: 'pay_1', payloadChecked: true })).toEqual({
      id: 'pay_1',
    });
    // the same key with another payload: refused, and the stored job is untouched
    await expect(payments.add(pay(9), { jobId: 'pay_1' })).rejects.toMatchObject({
      code: 'JOB_ID_REUSED',
    });
    await payments.add(pay(2), { jobId: 'pay_2' });
    await payments.add(pay(3), { jobId: 'pay_3' });
    await payments.add(pay(4), { jobId: 'pay_4', delayMs: 200 });

    await waitFor('four payment events', async () => (seen.length >= 4 ? true : undefined));
    expect([...seen].sort()).toEqual(['pay_1', 'pay_2', 'pay_3', 'pay_4']);
    expect(attemptsByPayment.get('pay_1')).toBe(1);
    // a thrown error burns an attempt (retried after backoff); a reschedule does not
    expect(attemptsMadeOnRun.get('pay_2')).toEqual([0, 1]);
    expect(attemptsMadeOnRun.get('pay_3')).toEqual([0, 0]);
    expect(attemptsMadeOnRun.get('pay_4')).toEqual([0]);
    // the metrics hook heard every run: the thrown error and the reschedule as retries, no ids
    await waitFor('six runs reported', async () => (runs.length >= 6 ? true : undefined));
    const outcomes = runs.map((r) => `${r.queue} ${r.outcome}`).sort();
    expect(outcomes).toEqual([
      ...Array(2).fill('payments retry'),
      ...Array(4).fill('payments succeeded'),
    ]);
    expect(runs.filter((r) => r.waitSeconds !== undefined)).toHaveLength(4); // first starts only
    expect(runs.every((r) => r.processingSeconds >= 0 && (r.waitSeconds ?? 0) >= 0)).toBe(true);
    // another replica of payment-service reads the same status from Redis
    const replica = as('payment-service');
    await waitFor('pay_1 finished', async () =>
      (await replica.status('payments', 'pay_1'))?.state === 'succeeded' ? true : undefined,
    );
    expect(await replica.status('payments', 'pay_1')).toEqual({
      state: 'succeeded',
      result: { provider_payment_id: 'pp_pay_1' },
    });
    expect(await replica.status('payments', 'pay_unknown')).toBeUndefined();
    await expect(replica.status('refunds', 'ref_1')).rejects.toMatchObject({
      code: 'QUEUE_NOT_GRANTED',
    });
    expect(await aclLog()).toEqual([]);
  });

  it('reports each step of a job: taken, succeeded with its duration, a retry with its wait, failed for good', async () => {
    const steps: JobLogEvent[] = [];
    const payment = as('payment-service', { onJob: (e) => steps.push(e) });
    const runs = new Map<string, number>();
    payment.consume('payments', async (env) => {
      const n = (runs.get(env.data.payment_id) ?? 0) + 1;
      runs.set(env.data.payment_id, n);
      if (env.data.payment_id === 'pay_21' && n === 1) throw new Error('transient provider error');
      if (env.data.payment_id === 'pay_22' && n === 1) throw new RescheduleJobError(100);
      if (env.data.payment_id === 'pay_23') throw new PermanentJobError('provider said 402');
    });
    await payment.start();
    const payments = payment.producer('payments');
    for (const n of [20, 21, 22, 23])
      await payments.add(pay(n), { jobId: `pay_${n}`, correlationId: `req_${n}` });
    await waitFor('every job to settle', async () =>
      steps.filter((s) => s.event === 'succeeded' || s.event === 'failed').length === 4
        ? true
        : undefined,
    );
    const of = (jobId: string) =>
      steps
        .filter((s) => s.jobId === jobId)
        .map((s) => ({
          event: s.event,
          attempt: s.attempt,
          correlationId: s.correlationId,
          ...(s.durationMs !== undefined ? { durationMs: expect.any(Number) } : {}),
          ...(s.waitMs !== undefined ? { waitMs: s.waitMs } : {}),
        }));
    const c = (n: number) => ({ correlationId: `req_${n}` });
    expect(of('pay_20')).toEqual([
      { event: 'taken', attempt: 1, ...c(20) },
      { event: 'succeeded', attempt: 1, durationMs: expect.any(Number), ...c(20) },
    ]);
    // the backoff's wait (50 ms base, 50 % jitter), as BullMQ scheduled it
    const retry = steps.find((s) => s.jobId === 'pay_21' && s.event === 'retry_scheduled');
    expect(retry?.waitMs).toBeGreaterThanOrEqual(25);
    expect(retry?.waitMs).toBeLessThanOrEqual(50);
    expect(of('pay_21')).toEqual([
      { event: 'taken', attempt: 1, ...c(21) },
      { event: 'retry_scheduled', attempt: 1, waitMs: retry?.waitMs, ...c(21) },
      { event: 'taken', attempt: 2, ...c(21) },
      { event: 'succeeded', attempt: 2, durationMs: expect.any(Number), ...c(21) },
    ]);
    // a wait the handler asked for is not an attempt
    expect(of('pay_22')).toEqual([
      { event: 'taken', attempt: 1, ...c(22) },
      { event: 'retry_scheduled', attempt: 1, waitMs: 100, ...c(22) },
      { event: 'taken', attempt: 1, ...c(22) },
      { event: 'succeeded', attempt: 1, durationMs: expect.any(Number), ...c(22) },
    ]);
    expect(of('pay_23')).toEqual([
      { event: 'taken', attempt: 1, ...c(23) },
      { event: 'failed', attempt: 1, ...c(23) },
    ]);
    // ids and timings only: no amount, currency or other payload value
    expect(JSON.stringify(steps)).not.toMatch(/102[0-3]|EUR|amount/);
  });

  it('carries the trace from the producer span to the consumer span in the job, as a W3C traceparent', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new NodeTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(exporter)],
    });
    provider.register();
    try {
      const payment = as('payment-service');
      const seen: string[] = [];
      payment.consume('payments', async (env) => {
        seen.push(env.traceparent ?? '');
      });
      await payment.start();
      const root = trace.getTracer('test').startSpan('POST /payments');
      await context.with(trace.setSpan(context.active(), root), () =>
        payment.producer('payments').add(pay(30), { jobId: 'pay_30' }),
      );
      root.end();
      await waitFor('the job', async () => (seen.length === 1 ? true : undefined));
      await waitFor('the consumer span', async () =>
        exporter.getFinishedSpans().some((s) => s.name === 'payments process') ? true : undefined,
      );
      const spans = exporter.getFinishedSpans();
      const byName = (name: string) => spans.find((s) => s.name === name)!;
      const [published, processed] = [byName('payments publish'), byName('payments process')];
      expect(published.kind).toBe(SpanKind.PRODUCER);
      expect(processed.kind).toBe(SpanKind.CONSUMER);
      expect(published.parentSpanContext?.spanId).toBe(root.spanContext().spanId);
      expect(processed.parentSpanContext?.spanId).toBe(published.spanContext().spanId);
      expect(processed.spanContext().traceId).toBe(root.spanContext().traceId);
      expect(seen[0]).toBe(`00-${root.spanContext().traceId}-${published.spanContext().spanId}-01`);
    } finally {
      await provider.shutdown();
      trace.disable();
      context.disable();
    }
  });

  it('fails a permanent error once, without retries', async () => {
    const runs: JobRun[] = [];
    const payment = as('payment-service', { onJobRun: (run) => runs.push(run) });
    let calls = 0;
    payment.consume('payments', async () => {
      calls += 1;
      throw new PermanentJobError('provider said 400 invalid_parameters');
    });
    await payment.start();
    await payment.producer('payments').add(pay(9), { jobId: 'pay_9' });
    // this job's own state: earlier tests leave failed jobs of their own in the same queue
    await waitFor('the job to fail', async () =>
      (await payment.status('payments', 'pay_9'))?.state === 'failed' ? true : undefined,
    );
    expect(calls).toBe(1);
    expect(await payment.status('payments', 'pay_9')).toEqual({ state: 'failed' });
    expect(runs.map((r) => r.outcome)).toEqual(['failed']);
    expect(await aclLog()).toEqual([]);
  });

  it('fails a job whose data breaks the contract without calling the handler', async () => {
    const payment = as('payment-service');
    let calls = 0;
    payment.consume('payments', async () => {
      calls += 1;
    });
    await payment.start();
    const failed = new Promise<string>(
      (resolve) =>
        void payment
          .events('payments')
          .then((e) => e.on('failed', (id, why) => resolve(`${id}: ${why}`))),
    );
    // a producer bypassing the library (same ACL user, EVALSHA) writes a job with a float amount
    const conn = new EvalshaOnlyRedis({
      port: redis.port,
      username: 'payment-service',
      password: passwords['payment-service'],
    });
    const raw = new Queue(bullQueueName('payments'), { connection: conn, prefix });
    await raw.add(
      'payment.requested',
      { data: { payment_id: 'pay_x', amount: 1.5 } },
      {
        jobId: 'pay_x',
        attempts: 5,
      },
    );
    expect(await failed).toMatch(/^pay_x: job pay_x does not match the payments contract/);
    expect(calls).toBe(0);
    expect((await raw.getJob('pay_x'))?.attemptsMade).toBe(1);
    await raw.close();
    conn.disconnect();
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
    children.push(child);
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

/** A connection as `user` with stock ioredis, as an attacker holding its password would have. */
const rawAs = (user: string, password: string, port = redis.port) => {
  const conn = new Redis({
    port,
    username: user,
    password,
    maxRetriesPerRequest: 1,
    disableClientInfo: true,
    // the loader user may not INFO (ioredis' ready check); nothing else here needs it
    enableReadyCheck: false,
  });
  conn.on('error', () => undefined);
  return conn;
};
const BUSY_LOOP = 'while true do end';
const BUSY_FUNCTION =
  "#!lua name=spin\nredis.register_function('spin', function() while true do end end)";

describe('Lua: a service runs only the BullMQ scripts an operator loaded (ADR 0018)', () => {
  it.each(SERVICE_NAMES)(
    'refuses %s any Lua of its own: EVAL, EVAL_RO, SCRIPT, FUNCTION, FCALL',
    async (service) => {
      await redis.admin().call('ACL', 'LOG', 'RESET');
      const conn = rawAs(service, passwords[service]);
      try {
        const denied: string[][] = [
          ['EVAL', BUSY_LOOP, '0'],
          ['EVAL_RO', BUSY_LOOP, '0'],
          ['SCRIPT', 'LOAD', BUSY_LOOP],
          ['SCRIPT', 'FLUSH'],
          ['SCRIPT', 'KILL'],
          ['FUNCTION', 'LOAD', BUSY_FUNCTION],
          ['FUNCTION', 'FLUSH'],
          ['FCALL', 'spin', '0'],
          ['FCALL_RO', 'spin', '0'],
        ];
        for (const [cmd, ...args] of denied)
          await expect(conn.call(cmd, ...args)).rejects.toThrow(/^NOPERM/);
        // EVALSHA runs only what is in the cache, and only operators put anything there
        const sha = createHash('sha1').update(BUSY_LOOP).digest('hex');
        await expect(conn.call('EVALSHA', sha, '0')).rejects.toThrow(/^NOSCRIPT/);
        // stock ioredis under BullMQ sends EVAL first on every socket: refused too
        const stock = new Queue(bullQueueName('payments'), { connection: conn, prefix });
        stock.on('error', () => undefined);
        if (grantOf(service).queues.produces.includes('payments'))
          await expect(
            stock.add('payment.requested', pay(1), { jobId: 'pay_stock' }),
          ).rejects.toThrow(/NOPERM.*eval/i);
        await stock.close();
        // every attempt was denied at Redis and is on record as this user's
        const log = (await aclLog()) as unknown[][];
        const entries = log.map((e) => Object.fromEntries(chunk(e)) as Record<string, unknown>);
        expect(new Set(entries.map((e) => e.username))).toEqual(new Set([service]));
        expect(new Set(entries.map((e) => e.object))).toEqual(
          new Set([
            'eval',
            'eval_ro',
            'script|load',
            'script|flush',
            'script|kill',
            'function|load',
            'function|flush',
            'fcall',
            'fcall_ro',
          ]),
        );
        expect(await redis.admin().call('FUNCTION', 'LIST')).toEqual([]);
        expect(await redis.admin().call('SCRIPT', 'EXISTS', sha)).toEqual([0]);
      } finally {
        conn.disconnect();
        await redis.admin().call('ACL', 'LOG', 'RESET');
      }
    },
  );

  it('lets the script loader load BullMQ scripts and do nothing else', async () => {
    const conn = rawAs(loader.username, loader.password);
    try {
      expect(await loadBullmqScripts(conn)).toEqual({ loaded: 0, total: BULLMQ_SCRIPTS.length });
      for (const [cmd, ...args] of [
        ['EVAL', BUSY_LOOP, '0'],
        ['EVALSHA', BULLMQ_SCRIPTS[0].sha, '0'],
        ['FUNCTION', 'LOAD', BUSY_FUNCTION],
        ['SCRIPT', 'FLUSH'],
        ['GET', `${prefix}:{payments}:id`],
        ['KEYS', '*'],
      ])
        await expect(conn.call(cmd, ...args)).rejects.toThrow(/^NOPERM/);
    } finally {
      conn.disconnect();
      await redis.admin().call('ACL', 'LOG', 'RESET');
    }
  });

  it('finds every script a BullMQ connection defines in the set the loader loads', async () => {
    const conn = new EvalshaOnlyRedis({
      port: redis.port,
      username: 'payment-service',
      password: passwords['payment-service'],
      disableClientInfo: true,
    });
    const q = new Queue(bullQueueName('payments'), { connection: conn, prefix });
    await q.waitUntilReady();
    const defined = Object.values(conn.scriptsSet as Record<string, { sha: string }>).map(
      (s) => s.sha,
    );
    expect(defined.length).toBeGreaterThan(50);
    expect(new Set(BULLMQ_SCRIPTS.map((s) => s.sha))).toEqual(new Set(defined));
    await q.close();
    conn.disconnect();
  });
});

describe('a Redis restart empties the script cache', () => {
  it('makes producers answer "unavailable" until the loader runs; then every job is delivered', async () => {
    const durable = await startRedisServer({
      acl: renderRedisAcl({ passwords, admin, prefix }),
      adminUser: admin,
      appendOnly: true,
      afterStart: loadBullmqScripts,
    });
    const errors: string[] = [];
    const service = createMessaging({
      service: 'payment-service',
      redis: { host: '127.0.0.1', port: durable.port, password: passwords['payment-service'] },
      prefix,
      backoffMs: 50,
      lockDurationMs: 2000,
      stalledIntervalMs: 500,
      onError: (err) => errors.push(err.message),
    });
    const processed: string[] = [];
    try {
      service.consume('payments', async (env) => {
        processed.push(env.data.payment_id);
      });
      await service.start();
      const payments = service.producer('payments');
      await payments.add(pay(1), { jobId: 'pay_1' });
      await payments.add(pay(2), { jobId: 'pay_2', delayMs: 1500 });
      await waitFor('pay_1 processed', async () =>
        processed.includes('pay_1') ? true : undefined,
      );

      await durable.restart({ afterStart: false });
      const admin = durable.admin();
      expect(await admin.call('SCRIPT', 'EXISTS', BULLMQ_SCRIPTS[0].sha)).toEqual([0]);
      // once reconnected, an add meets the empty cache: an error the HTTP edge answers 503 to
      const refused = await waitFor('an add to meet the empty script cache', async () => {
        const err = await payments.add(pay(3), { jobId: 'pay_3' }).then(
          () => new Error('added without scripts'),
          (e: unknown) => e as Error,
        );
        return /NOSCRIPT|added/.test(err.message) ? err : undefined;
      });
      expect(refused.message).toMatch(/^NOSCRIPT/);
      expect(isRedisUnavailable(refused)).toBe(true);

      expect(await loadBullmqScripts(admin)).toEqual({
        loaded: BULLMQ_SCRIPTS.length,
        total: BULLMQ_SCRIPTS.length,
      });
      await payments.add(pay(3), { jobId: 'pay_3' });
      await waitFor(
        'the delayed and the new job',
        async () => (['pay_2', 'pay_3'].every((p) => processed.includes(p)) ? true : undefined),
        { timeoutMs: 40_000 },
      );
      expect([...new Set(processed)].sort()).toEqual(['pay_1', 'pay_2', 'pay_3']);
      expect(await admin.call('ACL', 'LOG')).toEqual([]);
      expect(
        errors.every((m) => /NOSCRIPT|Connection is closed|ECONNREFUSED|ECONNRESET/.test(m)),
      ).toBe(true);
    } finally {
      await service.close().catch(() => undefined);
      await durable.stop();
    }
  });
});

describe('a Redis restart under the generated ACL (append-only file on)', () => {
  it('keeps every queued job: the AOF replay is not refused by the ACL', async () => {
    const durable = await startRedisServer({
      acl: renderRedisAcl({ passwords, admin, prefix }),
      adminUser: admin,
      appendOnly: true,
      afterStart: loadBullmqScripts,
    });
    const producer = createMessaging({
      service: 'payment-service',
      redis: { host: '127.0.0.1', port: durable.port, password: passwords['payment-service'] },
      prefix,
    });
    try {
      // every BullMQ write is a Lua script, which the AOF records as a MULTI/EXEC block
      const payments = producer.producer('payments');
      for (let n = 1; n <= 5; n += 1) await payments.add(pay(n), { jobId: `pay_${n}` });
      await producer.close();
      const counts = async () => {
        const q = new Queue(bullQueueName('payments'), {
          prefix,
          connection: { host: '127.0.0.1', port: durable.port, ...admin },
        });
        try {
          return await q.getJobCounts('wait');
        } finally {
          await q.close();
        }
      };
      expect(await counts()).toEqual({ wait: 5 });
      await durable.restart();
      expect(await counts()).toEqual({ wait: 5 });
      expect(readFileSync(join(durable.dir, 'redis.log'), 'utf8')).not.toContain('NOPERM');
      // and nobody can log in as the default user
      const replies = await new Promise<string>((resolve, reject) => {
        const sock = connect(durable.port, '127.0.0.1', () =>
          sock.write('GET x\r\nAUTH default ""\r\n'),
        );
        let data = '';
        sock.on('data', (chunk) => {
          data += String(chunk);
          if (data.split('\r\n').length > 2) {
            sock.destroy();
            resolve(data);
          }
        });
        sock.on('error', reject);
      });
      expect(replies).toMatch(/^-NOAUTH/);
      expect(replies).toMatch(/\r\n-WRONGPASS/);
    } finally {
      await producer.close().catch(() => undefined);
      await durable.stop();
    }
  });
});

describe('what the connections send at connect (issue 22: Redis 7.2+)', () => {
  it('sends no CLIENT SETINFO, which Redis 7.2+ would refuse under the ACL and 7.0 does not know', async () => {
    // a TCP relay in front of Redis records every byte the clients send, whatever the version
    const sent: Buffer[] = [];
    const relay = createServer((client) => {
      const upstream = connect(redis.port, '127.0.0.1');
      client.on('data', (d) => sent.push(d));
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const m = createMessaging({
      service: 'payment-service',
      redis: {
        host: '127.0.0.1',
        port: (relay.address() as AddressInfo).port,
        password: passwords['payment-service'],
      },
      prefix,
    });
    try {
      m.consume('payments', async () => undefined);
      await m.start();
      (await m.events('payments')).on('completed', () => undefined);
      await m.producer('payments').add(pay(21), { jobId: 'pay_21' });
      await m.status('payments', 'pay_21');
    } finally {
      await m.close();
      relay.close();
    }
    // booleans only: the capture holds AUTH with the password, never printed on a failure
    const wire = Buffer.concat(sent).toString('latin1').toUpperCase();
    const seen = (s: string) => wire.includes(s);
    // the capture works: it saw each connection name itself and a script run
    expect({ setname: seen('SETNAME'), evalsha: seen('EVALSHA') }).toEqual({
      setname: true,
      evalsha: true,
    });
    expect({
      setinfo: seen('SETINFO'),
      eval: seen('\r\nEVAL\r\n'),
      script: seen('\r\nSCRIPT\r\n'),
    }).toEqual({ setinfo: false, eval: false, script: false });
  });
});

describe('isRedisUnavailable', () => {
  it('recognises a producer failing fast once Redis is gone, and nothing else', async () => {
    const doomed = await startRedisServer({
      acl: renderRedisAcl({ passwords, admin, prefix }),
      adminUser: admin,
      afterStart: loadBullmqScripts,
    });
    const service = createMessaging({
      service: 'payment-service',
      redis: { host: '127.0.0.1', port: doomed.port, password: passwords['payment-service'] },
      prefix,
      onError: () => undefined,
    });
    try {
      const payments = service.producer('payments');
      await payments.add(pay(1), { jobId: 'pay_1' });
      await doomed.kill('SIGKILL');
      const addErr = await payments.add(pay(2), { jobId: 'pay_2' }).catch((e: unknown) => e);
      const statusErr = await service.status('payments', 'pay_1').catch((e: unknown) => e);
      expect(isRedisUnavailable(addErr)).toBe(true);
      expect(isRedisUnavailable(statusErr)).toBe(true);
    } finally {
      await service.close().catch(() => undefined);
      await doomed.stop();
    }
    expect(isRedisUnavailable(new TypeError('cannot read properties of undefined'))).toBe(false);
    expect(isRedisUnavailable(new MessagingError('CONTRACT_VIOLATION', 'invalid'))).toBe(false);
    expect(isRedisUnavailable('ECONNREFUSED')).toBe(false);
  });
});

describe('denials', () => {
  it('refuses, in the library, to produce or consume outside the grant', () => {
    const reporting = as('reporting-service');
    expect(() => reporting.producer('payments' as never)).toThrow(MessagingError);
    expect(() => reporting.consume('payments', async () => undefined)).toThrow(/may not consume/);
  });

  it('refuses a second handler for the same queue', () => {
    const payment = as('payment-service');
    payment.consume('payments', async () => undefined);
    expect(() => payment.consume('payments', async () => undefined)).toThrow(
      expect.objectContaining({ code: 'HANDLER_DUPLICATE' }),
    );
  });

  it('refuses to watch events of a queue outside the grant', async () => {
    await expect(as('webhook-service').events('payments')).rejects.toMatchObject({
      code: 'QUEUE_NOT_GRANTED',
    });
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

  it('accepts only a W3C traceparent in the envelope, bounded', () => {
    const envelope = { ...as('payment-service').wrap('payments', pay(1)) };
    const tp = `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`;
    expect(envelopeSchema('payments').safeParse({ ...envelope, traceparent: tp }).success).toBe(
      true,
    );
    for (const bad of [`${tp}-extra`, tp.toUpperCase(), 'x'.repeat(55), '', `${tp}\n`])
      expect(envelopeSchema('payments').safeParse({ ...envelope, traceparent: bad }).success).toBe(
        false,
      );
  });

  it.each(QUEUE_NAMES)('rejects a %s payload with a missing or mistyped field', (queue) => {
    const m = as(consumersOf(queue)[0]);
    const valid = SAMPLES[queue]('ok');
    expect(m.wrap(queue, valid).data).toEqual(valid);
    for (const [field, value] of Object.entries(valid)) {
      const broken = { ...valid, [field]: typeof value === 'number' ? 'NaN' : 42 };
      expect(() => m.wrap(queue, broken as never)).toThrow(
        expect.objectContaining({ code: 'CONTRACT_VIOLATION' }),
      );
    }
    expect(() => m.wrap(queue, { ...valid, currency: 'eur' } as never)).toThrow(/ISO 4217/);
  });

  it('finds secret-shaped values anywhere and names the field, never the value', () => {
    const pemLabel = ['-----BEGIN', 'PRIVATE', 'KEY-----'].join(' ');
    const cases: [unknown, string][] = [
      [{ a: { b: `${pemLabel}\nMIIB` } }, 'data.a.b'],
      [{ reason: ['whsec', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'].join('_') }, 'data.reason'],
      [{ list: ['ok', ['hvs', 'CAESIJ3j4k5l6m7n8o9p0q1r2s3t'].join('.')] }, 'data.list.1'],
      [{ description: 'card 4242 4242 4242 4242' }, 'data.description'],
    ];
    for (const [value, path] of cases) expect(findSecretShape(value)?.path).toBe(path);
    expect(findSecretShape({ description: 'order 1234, 2 items', amount: 4242424242424242 })).toBe(
      undefined,
    );
    const payment = as('payment-service');
    const secret = ['whsec', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'].join('_');
    let message = '';
    try {
      payment.wrap('payments', {
        payment_id: 'pay_1',
        amount: 1,
        currency: 'EUR',
        description: secret,
      });
    } catch (err) {
      message = (err as Error).message;
      expect(err).toMatchObject({ code: 'SECRET_IN_PAYLOAD' });
    }
    expect(message).toMatch(/data\.description looks like a webhook signing secret/);
    expect(message).not.toContain(secret);
  });

  it('denies a compromised reporting-service at Redis itself: NOPERM on another queue, nothing written', async () => {
    // bypass the library: raw BullMQ with reporting-service's real Redis credentials (EVALSHA,
    // so that the denial is the keys', not EVAL's)
    const conn = new EvalshaOnlyRedis({
      port: redis.port,
      username: 'reporting-service',
      password: passwords['reporting-service'],
      maxRetriesPerRequest: 1,
    });
    const admin = redis.admin();
    const snapshot = async () => ({
      // without the stalled checker's marker, which an earlier test's worker leaves to expire
      keys: ((await admin.keys(`${prefix}:{payments}:*`)) as string[])
        .filter((k) => !k.endsWith(':stalled-check'))
        .sort(),
      lastId: await admin.get(`${prefix}:{payments}:id`),
      events: await admin.xlen(`${prefix}:{payments}:events`),
    });
    const before = await snapshot();
    const q = new Queue(bullQueueName('payments'), { connection: conn, prefix });
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
    await expect(conn.call('DEL', `${prefix}:{payments}:wait`)).rejects.toThrow(/NOPERM/);
    await q.close();
    conn.disconnect();
    expect(await redis.admin().exists(`${prefix}:{payments}:pay_evil`)).toBe(0);
    expect(await snapshot()).toEqual(before);
    const log = (await aclLog()) as unknown[][];
    expect(log.length).toBeGreaterThan(0);
  });
});
