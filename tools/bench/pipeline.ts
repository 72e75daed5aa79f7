// The end-to-end pipeline benchmark: payments through the real stack (HTTP -> `payments`
// queue -> provider over mTLS -> `payment-events` -> reporting-service, plus the provider's
// webhook -> webhook-service -> `provider-events` -> reporting-service), against the same
// stack with a fixed token and against raw BullMQ on the same Redis. The arms run in
// alternating rounds so the machine's noise falls on all of them.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Agent, request } from 'node:https';
import { Queue, QueueEvents, Worker } from 'bullmq';
import { Pool } from 'pg';
import { bullQueueName, grantOf, secretDataPathOf } from '@lpi/access-matrix';
import { startStack, type Stack } from '../demo/stack';

export interface PipelineRun {
  payments: number;
  seconds: number;
  /** POST sent -> payment-events job finished by reporting-service, ms, sorted. */
  latencies: number[];
  /** CPU time of every process of the stack (and this one), ms per payment, by process. */
  cpuMsPerPayment: Record<string, number>;
}

const IN_FLIGHT = 16;

/** Calls `send(0..n-1)` from IN_FLIGHT concurrent clients (the load shape of every arm). */
async function fromClients(n: number, send: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < n) await send(next++);
    }),
  );
}

function adminConnection(stack: Stack) {
  if (stack.redisCluster) return stack.redisCluster.admin();
  return {
    host: stack.redis.host,
    port: stack.redis.port,
    username: stack.redisAdmin.username,
    password: stack.redisAdmin.password,
  };
}

/** CPU time (ms) of this process and every descendant, keyed by a readable label. */
function cpuByProcess(): Record<string, number> {
  const parentOf = new Map<number, number>();
  const stat = new Map<number, { label: string; ms: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const raw = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      // an app runs from its TypeScript (apps/<app>/src/main.ts) or its bundle (dist/apps/<app>/main.js)
      const app = cmd
        .map((a) => /(?:^|\/)apps\/([\w-]+)\/(?:src\/main\.ts|main\.js)$/.exec(a)?.[1])
        .find(Boolean);
      const label = app
        ? app
        : cmd[0].includes('redis-server')
          ? 'redis-server'
          : cmd[0].startsWith('postgres')
            ? 'postgres'
            : Number(entry) === process.pid
              ? 'bench driver (HTTP clients)'
              : 'other';
      parentOf.set(Number(entry), Number(fields[1]));
      // utime + stime, and cutime + cstime (children that exited and were reaped, such as a
      // PostgreSQL backend whose pool closed: without them its CPU would leave the sum), in
      // clock ticks (100 per second on Linux)
      const ticks = [11, 12, 13, 14].reduce((a, i) => a + Number(fields[i]), 0);
      stat.set(Number(entry), { label, ms: ticks * 10 });
    } catch {
      // the process exited while we read
    }
  }
  const out: Record<string, number> = {};
  for (const [pid, s] of stat) {
    let p: number | undefined = pid;
    while (p && p !== process.pid) p = parentOf.get(p);
    if (p !== process.pid) continue;
    out[s.label] = (out[s.label] ?? 0) + s.ms;
  }
  return out;
}

/** CPU ms per payment by process since `before` (a `cpuByProcess()` reading), over `n` payments. */
function cpuPerPaymentSince(before: Record<string, number>, n: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [label, ms] of Object.entries(cpuByProcess()))
    out[label] = (ms - (before[label] ?? 0)) / n;
  return out;
}

/** The CPU of every process together, from a by-process record. */
export const totalCpuMs = (byProcess: Record<string, number>): number =>
  Object.values(byProcess).reduce((a, x) => a + x, 0);

/** The mean of several runs' by-process records, process by process. */
export function meanByProcess(runs: Record<string, number>[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const run of runs)
    for (const [label, ms] of Object.entries(run))
      out[label] = (out[label] ?? 0) + ms / runs.length;
  return out;
}

/** Calls `send(0..n-1)` open loop at `perSec`: one every 1/perSec s, whatever is in flight. */
async function paced(n: number, perSec: number, send: (i: number) => Promise<void>) {
  const t0 = performance.now();
  const sends: Promise<void>[] = [];
  for (let i = 0; i < n; i += 1) {
    const wait = t0 + (i * 1000) / perSec - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    sends.push(send(i));
  }
  await Promise.all(sends);
}

/** How long a run may go without one more payment reported before it fails, naming what is missing. */
const STALL_MS = 60_000;

/** Resolves once all `n` payments sent are reported; `check` after every change of either map. */
function allReported(n: number, sentAt: Map<string, number>, finishedAt: Map<string, number>) {
  let resolve: () => void = () => undefined;
  let reject: (err: Error) => void = () => undefined;
  const reported = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  let lastCount = -1;
  const watchdog = setInterval(() => {
    const count = finishedAt.size;
    if (count === lastCount)
      reject(new Error(`no payment reported for ${STALL_MS} ms: ${count} of ${n} reported`));
    lastCount = count;
  }, STALL_MS).unref();
  const check = () => {
    if (sentAt.size < n || ![...sentAt.keys()].every((id) => finishedAt.has(id))) return;
    clearInterval(watchdog);
    resolve();
  };
  reported.catch(() => clearInterval(watchdog));
  return { reported, check };
}

/**
 * `n` payments through the stack, timed to the report: from IN_FLIGHT concurrent clients
 * (the maximum rate), or open loop at `perSec` (the latency at a given load).
 */
export async function runPayments(
  stack: Stack,
  n: number,
  tag: string,
  perSec?: number,
): Promise<PipelineRun> {
  // completions are heard on the queue's event stream: the completed count stops growing
  // once BullMQ keeps its newest 10,000 finished jobs (removeOnComplete)
  const events = new QueueEvents(bullQueueName('payment-events'), {
    connection: adminConnection(stack),
    // from now on, whenever its first read happens (stream ids are Redis time in ms)
    lastEventId: `${Date.now()}-0`,
  });
  try {
    await events.waitUntilReady();
    const sentAt = new Map<string, number>();
    const finishedAt = new Map<string, number>();
    const done = allReported(n, sentAt, finishedAt);
    events.on('completed', ({ jobId }, streamId) => {
      // a stream entry's id starts with Redis's clock in ms
      if (jobId.startsWith(`evt-`)) finishedAt.set(jobId.slice(4), Number(streamId.split('-')[0]));
      done.check();
    });
    const cpu0 = cpuByProcess();
    const t0 = performance.now();
    const load = perSec ? paced.bind(null, n, perSec) : fromClients.bind(null, n);
    await load(async (i) => {
      const at = Date.now();
      // as checkout, the caller the matrix grants POST /payments (its token cached per role)
      const res = await stack.callers.checkout.post('payment-service', '/payments', `${tag}-${i}`, {
        amount: 100 + i,
        currency: 'EUR',
      });
      if (res.status !== 202) throw new Error(`POST /payments answered ${res.status}`);
      sentAt.set(((await res.json()) as { payment_id: string }).payment_id, at);
    });
    done.check();
    await done.reported;
    const seconds = (performance.now() - t0) / 1000;
    const cpuMsPerPayment = cpuPerPaymentSince(cpu0, n);
    const latencies = [...sentAt].map(([id, at]) => finishedAt.get(id)! - at).sort((a, b) => a - b);
    return { payments: n, seconds, latencies, cpuMsPerPayment };
  } finally {
    await events.close();
  }
}

/**
 * Raw BullMQ on the same Redis: `n` jobs added with IN_FLIGHT concurrent producers and
 * processed by a no-op worker with the services' concurrency. `hops` = 3 models the
 * pipeline's queue traffic (each payment is a `payments` job that adds a `payment-events`
 * job, plus a `provider-events` job from the webhook); `hops` = 1 is plain add + process.
 */
export async function runRawBullmq(
  stack: Stack,
  n: number,
  hops: 1 | 3,
  concurrency: number,
): Promise<number> {
  const connection = adminConnection(stack);
  const name = (q: string) => `bench-raw-${hops}-${q}`;
  const first = new Queue(name('a'), { connection });
  const second = new Queue(name('b'), { connection });
  const third = new Queue(name('c'), { connection });
  let done = 0;
  const workerOptions = { connection: { ...connection, maxRetriesPerRequest: null }, concurrency };
  const workers =
    hops === 1
      ? [new Worker(name('a'), async () => void (done += 1), workerOptions)]
      : [
          new Worker(
            name('a'),
            async (job) => {
              await Promise.all([
                second.add('evt', job.data, { jobId: `b-${job.id}` }),
                third.add('wh', job.data, { jobId: `c-${job.id}` }),
              ]);
            },
            workerOptions,
          ),
          new Worker(name('b'), async () => void (done += 1), workerOptions),
          new Worker(name('c'), async () => undefined, workerOptions),
        ];
  await Promise.all(workers.map((w) => w.waitUntilReady()));
  const base = `${Date.now()}`;
  const t0 = performance.now();
  await fromClients(n, async (i) => {
    await first.add('job', { amount: 100 + i, currency: 'EUR' }, { jobId: `${base}-${i}` });
  });
  while (done < n) await new Promise((r) => setTimeout(r, 5));
  const perSec = n / ((performance.now() - t0) / 1000);
  await Promise.all(workers.map((w) => w.close()));
  await Promise.all([first, second, third].map((q) => q.obliterate({ force: true })));
  await Promise.all([first, second, third].map((q) => q.close()));
  return perSec;
}

export interface HandRolledRun {
  perSec: number;
  cpuMsPerPayment: number;
  /** CPU ms per payment by process, as `PipelineRun.cpuMsPerPayment`. */
  byProcess: Record<string, number>;
}

/** One JSON exchange over HTTPS with the given agent (mTLS when the agent holds a certificate). */
function httpsJson(
  agent: Agent,
  url: string,
  headers: Record<string, string>,
  body: string,
): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as Record<string, unknown> }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * The same payment flow written by hand on raw BullMQ, in this one process: a bare
 * `node:http` endpoint adds the job; a worker charges the provider over mTLS with one fixed
 * token (payment-service's own credentials and certificate, read from Vault) and adds the
 * event; a second worker consumes the event. No NestJS, no envelope or contract checks, no
 * token manager, no ACL user, no logs, no per-service database login (one bare `pg` pool as
 * the owner), but the same rows: the request stored before it is queued, settled after the
 * charge, and reporting's row. The provider's signed webhook still goes to the
 * stack's webhook-service, as it does for the pipeline, so the two arms differ exactly by
 * what the architecture adds around the same external work.
 */
export async function runHandRolled(
  stack: Stack,
  n: number,
  tag: string,
  concurrency: number,
): Promise<HandRolledRun> {
  const kv = (await (
    await fetch(`${stack.vault.addr}/v1/${secretDataPathOf('payment-service')}`, {
      headers: { 'x-vault-token': stack.vault.rootToken },
    })
  ).json()) as { data: { data: Record<string, string> } };
  const { client_id, client_secret, client_cert, client_key } = kv.data.data;
  const agent = new Agent({
    keepAlive: true,
    ca: stack.pki.caCert,
    cert: client_cert,
    key: client_key,
    servername: 'localhost',
  });
  const basic = Buffer.from(
    `${encodeURIComponent(client_id)}:${encodeURIComponent(client_secret)}`,
  ).toString('base64');
  const issued = await httpsJson(
    agent,
    stack.sandbox.tokenEndpoint,
    {
      authorization: `Basic ${basic}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    new URLSearchParams({
      grant_type: 'client_credentials',
      scope: grantOf('payment-service').oauth.scopes.join(' '),
    }).toString(),
  );
  if (issued.status !== 200)
    throw new Error(`hand-rolled arm: token endpoint answered ${issued.status}`);
  const bearer = `Bearer ${String(issued.json.access_token)}`;

  const db = new Pool({ connectionString: stack.postgres.url(), max: 8 });
  db.on('error', () => undefined);
  const connection = adminConnection(stack);
  const workerOptions = { connection: { ...connection, maxRetriesPerRequest: null }, concurrency };
  const payments = new Queue(`bench-hand-${tag}-payments`, { connection });
  const events = new Queue(`bench-hand-${tag}-events`, { connection });
  let done = 0;
  const charger = new Worker(
    payments.name,
    async (job) => {
      const p = job.data as { payment_id: string; amount: number; currency: string };
      const charge = await httpsJson(
        agent,
        `${stack.sandbox.apiBaseUrl}/v1/payments`,
        {
          authorization: bearer,
          'content-type': 'application/json',
          'idempotency-key': `charge:${p.payment_id}`,
        },
        JSON.stringify({ amount: p.amount, currency: p.currency }),
      );
      if (charge.status >= 300) throw new Error(`provider answered ${charge.status}`);
      await db.query(
        `UPDATE payments.requests SET state = 'succeeded', provider_id = $2, updated_at = now() WHERE id = $1`,
        [p.payment_id, charge.json.id],
      );
      await events.add(
        'evt',
        {
          payment_id: p.payment_id,
          provider_payment_id: charge.json.id,
          amount: p.amount,
          currency: p.currency,
        },
        {
          jobId: `evt-${p.payment_id}`,
        },
      );
    },
    workerOptions,
  );
  const reporter = new Worker(
    events.name,
    async (job) => {
      const e = job.data as Record<string, string | number>;
      await db.query(
        `INSERT INTO reporting.payments (payment_id, provider_payment_id, amount, currency)
         VALUES ($1, $2, $3, $4) ON CONFLICT (payment_id) DO NOTHING`,
        [e.payment_id, e.provider_payment_id, e.amount, e.currency],
      );
      done += 1;
    },
    workerOptions,
  );
  let seq = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const input = JSON.parse(body) as { amount: number; currency: string };
      const payment_id = `pay_${createHash('sha256')
        .update(`${tag}-${++seq}`)
        .digest('base64url')
        .slice(0, 24)}`;
      db.query(
        `INSERT INTO payments.requests (id, fingerprint, amount, currency) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO NOTHING`,
        [payment_id, body.length, input.amount, input.currency],
      )
        .then(() => payments.add('payment', { payment_id, ...input }, { jobId: payment_id }))
        .then(() =>
          db.query(
            `UPDATE payments.requests SET state = 'queued' WHERE id = $1 AND state = 'received'`,
            [payment_id],
          ),
        )
        .then(
          () => {
            res.writeHead(202, { 'content-type': 'application/json' });
            res.end(JSON.stringify({ payment_id, status: 'queued' }));
          },
          () => {
            res.writeHead(503);
            res.end();
          },
        );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/payments`;
  try {
    await Promise.all([charger.waitUntilReady(), reporter.waitUntilReady()]);
    const cpu0 = cpuByProcess();
    const t0 = performance.now();
    await fromClients(n, async (i) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${tag}-${i}` },
        body: JSON.stringify({ amount: 100 + i, currency: 'EUR' }),
      });
      if (res.status !== 202) throw new Error(`hand-rolled POST answered ${res.status}`);
      await res.arrayBuffer();
    });
    while (done < n) await new Promise((r) => setTimeout(r, 5));
    const seconds = (performance.now() - t0) / 1000;
    const byProcess = cpuPerPaymentSince(cpu0, n);
    return { perSec: n / seconds, cpuMsPerPayment: totalCpuMs(byProcess), byProcess };
  } finally {
    server.close();
    await Promise.all([charger.close(), reporter.close()]);
    await Promise.all([payments, events].map((q) => q.obliterate({ force: true })));
    await Promise.all([payments, events].map((q) => q.close()));
    await db.end();
    agent.destroy();
  }
}

/** Payments each arm runs before it is measured (`BENCH_PIPELINE_WARMUP`), in rounds of 500. */
export const WARMUP_PAYMENTS = Number(process.env.BENCH_PIPELINE_WARMUP ?? 3000);
const WARMUP_ROUND = 500;

/**
 * Warms every arm up to its steady state, in alternating rounds, printing each round. A cold
 * service spends about twice the CPU per payment of a warm one (V8 optimises the hot paths
 * over the first few thousand payments: payment-service 3.5 -> 2.0 ms in one run), and a
 * service runs warm for days, so that is what is measured; the rounds show the curve.
 */
async function warmUp(
  arms: Record<string, (n: number, tag: string) => Promise<{ perSec: number; cpuMs: number }>>,
  log: (line: string) => void,
  payments = WARMUP_PAYMENTS,
): Promise<void> {
  const rounds = Math.ceil(payments / WARMUP_ROUND);
  for (let r = 1; r <= rounds; r++) {
    const line: string[] = [];
    for (const [name, run] of Object.entries(arms)) {
      const { perSec, cpuMs } = await run(
        WARMUP_ROUND,
        `warm${r}-${name.replace(/\W/g, '')}-${Date.now()}`,
      );
      line.push(`${name} ${perSec.toFixed(0)}/s ${cpuMs.toFixed(1)} ms CPU`);
    }
    log(`warm-up ${r}/${rounds} (${WARMUP_ROUND} payments each): ${line.join(', ')}`);
  }
}

/** `runPayments` as a warm-up arm: its rate and its CPU per payment, all processes. */
const paymentsArm = (stack: Stack) => async (n: number, tag: string) => {
  const run = await runPayments(stack, n, tag);
  return { perSec: n / run.seconds, cpuMs: totalCpuMs(run.cpuMsPerPayment) };
};

export interface PipelineResults {
  managed: PipelineRun[];
  fixed: PipelineRun[];
  rawOneHop: number[];
  rawSameHops: number[];
  handRolled: HandRolledRun[];
  /** Open loop at half the measured maximum rate: the latency a caller sees under load. */
  halfRate?: PipelineRun;
  /** The same stack with a second payment-service process on the same queues. */
  twoWorkers: PipelineRun[];
}

/**
 * Two stacks side by side (idle while the other runs): the real token path, and the same
 * services with PROVIDER_TOKEN_MODE=fixed. Warm-up first, then `rounds` alternating rounds.
 */
export async function pipelineBenchmark(options: {
  paymentsPerRound: number;
  rounds: number;
  concurrency: number;
  log: (line: string) => void;
}): Promise<PipelineResults> {
  const serviceEnv = { QUEUE_CONCURRENCY: String(options.concurrency) };
  // the provider's limit is not what is measured here (the fault drills cover 429s)
  const common = { rateLimitPerMinute: 6_000_000, serviceEnv };
  options.log('start the stack with the real token path');
  const managed = await startStack(common);
  let fixed: Stack | undefined;
  try {
    options.log('start a second stack with PROVIDER_TOKEN_MODE=fixed');
    fixed = await startStack({
      ...common,
      serviceEnv: { ...serviceEnv, PROVIDER_TOKEN_MODE: 'fixed' },
    });
    options.log(`warm up every arm (${WARMUP_PAYMENTS} payments each)`);
    await runRawBullmq(managed, 300, 1, options.concurrency);
    await warmUp(
      {
        pipeline: paymentsArm(managed),
        'fixed token': paymentsArm(fixed),
        'hand-rolled': async (n, tag) => {
          const run = await runHandRolled(managed, n, tag, options.concurrency);
          return { perSec: run.perSec, cpuMs: run.cpuMsPerPayment };
        },
      },
      options.log,
    );
    const results: PipelineResults = {
      managed: [],
      fixed: [],
      rawOneHop: [],
      rawSameHops: [],
      handRolled: [],
      twoWorkers: [],
    };
    for (let r = 1; r <= options.rounds; r++) {
      const n = options.paymentsPerRound;
      options.log(`round ${r}/${options.rounds}: ${n} payments per arm`);
      // the two token arms swap order every round, so neither always runs on a warmer machine
      if (r % 2 === 1) {
        results.managed.push(await runPayments(managed, n, `m${r}-${Date.now()}`));
        results.fixed.push(await runPayments(fixed, n, `f${r}-${Date.now()}`));
      } else {
        results.fixed.push(await runPayments(fixed, n, `f${r}-${Date.now()}`));
        results.managed.push(await runPayments(managed, n, `m${r}-${Date.now()}`));
      }
      results.rawOneHop.push(await runRawBullmq(managed, n, 1, options.concurrency));
      results.rawSameHops.push(await runRawBullmq(managed, n, 3, options.concurrency));
      results.handRolled.push(
        await runHandRolled(managed, n, `h${r}${Date.now()}`, options.concurrency),
      );
    }
    const maxRate =
      results.managed.reduce((a, x) => a + x.payments, 0) /
      results.managed.reduce((a, x) => a + x.seconds, 0);
    options.log(`open loop at half the measured maximum (${(maxRate / 2).toFixed(1)}/s)`);
    results.halfRate = await runPayments(
      managed,
      options.paymentsPerRound,
      `half-${Date.now()}`,
      maxRate / 2,
    );
    options.log('a second payment-service process on the same queues');
    await managed.startReplica('payment-service');
    // the new process starts cold and shares the load with the warm one: twice the warm-up
    await warmUp({ 'two workers': paymentsArm(managed) }, options.log, 2 * WARMUP_PAYMENTS);
    for (let r = 1; r <= Math.min(3, options.rounds); r++)
      results.twoWorkers.push(
        await runPayments(managed, options.paymentsPerRound, `two${r}-${Date.now()}`),
      );
    return results;
  } finally {
    await fixed?.stop();
    await managed.stop();
  }
}

/**
 * The same pipeline on one Redis and on a three-master Redis Cluster on the same machine:
 * two stacks side by side (idle while the other runs), warm-up, then alternating rounds.
 */
export async function clusterVsSingleRedisBenchmark(options: {
  paymentsPerRound: number;
  rounds: number;
  concurrency: number;
  log: (line: string) => void;
}): Promise<{ single: PipelineRun[]; cluster: PipelineRun[] }> {
  const common = {
    rateLimitPerMinute: 6_000_000,
    serviceEnv: { QUEUE_CONCURRENCY: String(options.concurrency) },
  };
  options.log('start the stack on one Redis');
  const single = await startStack(common);
  let cluster: Stack | undefined;
  try {
    options.log('start a second stack on a three-master Redis Cluster');
    cluster = await startStack({ ...common, redisCluster: { masters: 3 } });
    options.log(`warm up both (${WARMUP_PAYMENTS} payments each)`);
    await warmUp({ single: paymentsArm(single), cluster: paymentsArm(cluster) }, options.log);
    const results = { single: [] as PipelineRun[], cluster: [] as PipelineRun[] };
    for (let r = 1; r <= options.rounds; r++) {
      const n = options.paymentsPerRound;
      options.log(`round ${r}/${options.rounds}: ${n} payments per arm`);
      const one = () => runPayments(single, n, `s${r}-${Date.now()}`);
      const three = () => runPayments(cluster!, n, `c${r}-${Date.now()}`);
      if (r % 2 === 1) {
        results.single.push(await one());
        results.cluster.push(await three());
      } else {
        results.cluster.push(await three());
        results.single.push(await one());
      }
    }
    return results;
  } finally {
    await cluster?.stop();
    await single.stop();
  }
}
