import { randomUUID } from 'node:crypto';
import { DelayedError, Queue, QueueEvents, UnrecoverableError, Worker, type Job } from 'bullmq';
import type Redis from 'ioredis';
import { type Cluster, type RedisOptions } from 'ioredis';
import {
  type QueueName,
  type ServiceName,
  bullQueueName,
  grantOf,
  queuesOf,
} from '@lpi/access-matrix';
import {
  CONTRACTS,
  type Envelope,
  type JobData,
  envelopeSchema,
  findSecretShape,
} from './contracts';
import { MessagingError, PermanentJobError, RescheduleJobError } from './errors';
import { traceIdOf, withConsumerSpan, withProducerSpan } from './job-tracing';
import { EvalshaOnlyCluster, EvalshaOnlyRedis } from './lua-scripts';

export interface RedisNode {
  host: string;
  port: number;
}

export interface RedisConnection {
  host: string;
  port: number;
  /**
   * Seed nodes of a Redis Cluster (any few of its nodes; the rest is discovered). When set,
   * `host` and `port` are not used. The same ACL users must exist on every node.
   */
  cluster?: readonly RedisNode[];
  /** Defaults to the service name: one ACL user per service. */
  username?: string;
  password: string;
}

export interface MessagingOptions {
  service: ServiceName;
  redis: RedisConnection;
  /** Key prefix (default `bull`); tests use a unique one. Must match the ACL's patterns. */
  prefix?: string;
  /**
   * Retry policy for jobs this service produces: exponential backoff from `backoffMs`
   * (default 1 s) capped at `backoffCapMs` (default 60 s), with jitter, for as long as
   * `retryForMs` lasts (default 12 h, well inside the 24 h a provider keeps idempotency
   * keys). An outage of the provider or its authorization server shorter than that delays
   * the work; it does not fail it. `attempts` overrides the count.
   */
  attempts?: number;
  backoffMs?: number;
  backoffCapMs?: number;
  retryForMs?: number;
  /** Worker lock and stalled-check timing (ms); short values only in tests. */
  lockDurationMs?: number;
  stalledIntervalMs?: number;
  onError?: (err: Error, context: string) => void;
  /** Told how every run of a job ended (metrics); called on the hot path, so it must be cheap. */
  onJobRun?: (run: JobRun) => void;
  /** Each job's lifecycle, for the service's log (never job data). */
  onJob?: (event: JobLogEvent) => void;
}

/** How one run of a job ended: `retry` runs again later (backoff or reschedule), `failed` never. */
export type JobOutcome = 'succeeded' | 'retry' | 'failed';

/** One run of a job, as the worker saw it: no ids, no data. */
export interface JobRun {
  queue: QueueName;
  outcome: JobOutcome;
  /** From when the job was due to its first start; absent on later runs. */
  waitSeconds?: number;
  processingSeconds: number;
}

/**
 * A step in a job's life: taken by a worker, succeeded, a retry scheduled (after a failure,
 * or a wait the handler asked for), failed for good. `correlationId` is the request id the
 * job started from; `traceId` the trace it belongs to, when tracing is on.
 */
export interface JobLogEvent {
  event: 'taken' | 'succeeded' | 'retry_scheduled' | 'failed';
  queue: QueueName;
  jobId: string;
  attempt: number;
  correlationId?: string;
  traceId?: string;
  durationMs?: number;
  waitMs?: number;
  /** The failure's message (the project's own typed errors; never the payload). */
  reason?: string;
}

export interface AddOptions {
  /**
   * Business key: adding the same payload under the same id again is a no-op while the job
   * exists; another payload under it is refused (`JOB_ID_REUSED`), never silently dropped.
   */
  jobId: string;
  correlationId?: string;
  delayMs?: number;
  /**
   * The caller already knows that a job under `jobId` can only carry this payload (it stored
   * the request first and compared its fingerprint, or the payload follows from the id, as a
   * job's result event does): the read back is skipped, one Redis round trip and a job parse
   * fewer per add, and `created` is not known.
   */
  payloadChecked?: boolean;
}

export interface ConsumeOptions {
  concurrency?: number;
  /** Queue-wide rate limit: at most `max` job starts per `durationMs`. */
  limiter?: { max: number; durationMs: number };
}

/** What a handler may return: kept with the finished job, read back through `status`. */
export type JobResult = Record<string, string | number | boolean>;

export type JobHandler<Q extends QueueName> = (
  envelope: Envelope<Q>,
  job: { id: string; attemptsMade: number; attemptsStarted: number; attempts: number },
) => Promise<JobResult | void>;

/** Where a job stands, as the service's own API tells its callers; the same on every replica. */
export interface JobStatus {
  state: 'queued' | 'succeeded' | 'failed';
  result?: JobResult;
}

const CAPPED_BACKOFF = 'capped-exponential';

/**
 * Exponential backoff from `baseMs`, capped at `capMs`, with 50 % jitter; `attempts` is as
 * many as it takes for the waits (at their shortest) to cover `retryForMs`.
 */
export function cappedBackoff(baseMs: number, capMs: number, retryForMs: number) {
  const ceiling = (attemptsMade: number) =>
    Math.min(capMs, baseMs * 2 ** Math.max(0, attemptsMade - 1));
  let attempts = 1;
  for (let waited = 0; waited < retryForMs; attempts += 1) waited += ceiling(attempts) / 2;
  return {
    baseMs,
    attempts,
    delay: (attemptsMade: number) => Math.round(ceiling(attemptsMade) * (0.5 + Math.random() / 2)),
  };
}

/** JSON with sorted keys: two payloads are the same whatever order their fields came in. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object')
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(value) ?? 'null';
}

export interface Producer<Q extends QueueName> {
  /**
   * `created` is false when the job already existed (a retried request): it was not re-added;
   * undefined with `payloadChecked` (not read back).
   */
  add(data: JobData<Q>, options: AddOptions): Promise<{ id: string; created?: boolean }>;
}

/** Job lifecycle events of one queue, read from its `<prefix>:<queue>:events` stream. */
export type JobEventName = 'waiting' | 'active' | 'delayed' | 'completed' | 'failed' | 'stalled';

export interface JobEvents {
  /** `detail` is the failure reason for `failed`, empty otherwise. Never job data. */
  on(event: JobEventName, listener: (jobId: string, detail: string) => void): void;
}

/**
 * A service's view of the queues: it may only produce to and consume from what the access
 * matrix grants it, every payload is validated against the queue's contract, and every
 * consumed queue must have exactly one handler before `start()`.
 */
export class Messaging {
  private readonly queues = new Map<QueueName, Queue>();
  private readonly handlers = new Map<
    QueueName,
    { handler: JobHandler<QueueName>; options: ConsumeOptions }
  >();
  private readonly workers: Worker[] = [];
  private readonly listeners: QueueEvents[] = [];
  private readonly connections: (Redis | Cluster)[] = [];
  private started = false;

  private readonly retry: ReturnType<typeof cappedBackoff>;

  constructor(private readonly options: MessagingOptions) {
    this.retry = cappedBackoff(
      options.backoffMs ?? 1000,
      options.backoffCapMs ?? 60_000,
      options.retryForMs ?? 12 * 3600_000,
    );
  }

  get service(): ServiceName {
    return this.options.service;
  }

  private connectionOptions(forWorker: boolean): RedisOptions & { replyMapping?: 'legacy' } {
    const { host, port, username, password } = this.options.redis;
    return {
      host,
      port,
      username: username ?? this.options.service,
      password,
      // workers wait for Redis forever; producers (HTTP paths) fail fast
      maxRetriesPerRequest: forWorker ? null : 1,
      enableOfflineQueue: forWorker,
      connectionName: this.options.service,
      // no CLIENT SETINFO at connect: Redis 7.2+ would refuse it under the ACL (NOPERM in
      // ACL LOG), 7.0 does not know it (issue 22)
      disableClientInfo: true,
    };
  }

  private connection(forWorker: boolean): Redis | Cluster {
    const seeds = this.options.redis.cluster;
    // the node options must not name a host: ioredis applies them over each node's address
    const { host: _host, port: _port, ...nodeOptions } = this.connectionOptions(forWorker);
    // scripts by EVALSHA only: the ACL users may not EVAL (ADR 0018)
    const conn =
      seeds && seeds.length > 0
        ? new EvalshaOnlyCluster(
            seeds.map((n) => ({ ...n })),
            {
              redisOptions: nodeOptions,
              enableOfflineQueue: forWorker,
              // a master that died is failed over (or not) by the cluster; until then the
              // slot's commands wait and retry like any other outage
              clusterRetryStrategy: (times) => Math.min(100 * times, 2000),
            },
          )
        : new EvalshaOnlyRedis(this.connectionOptions(forWorker));
    conn.on('error', (err: Error) => this.options.onError?.(err, 'redis'));
    this.connections.push(conn);
    return conn;
  }

  producer<Q extends QueueName>(queue: Q): Producer<Q> {
    if (!grantOf(this.service).queues.produces.includes(queue)) {
      throw new MessagingError(
        'QUEUE_NOT_GRANTED',
        `${this.service} may not produce to queue "${queue}": the access matrix does not grant it`,
      );
    }
    const q = this.queue(queue);
    return {
      add: (data, opts) =>
        withProducerSpan(queue, opts.jobId, async (traceparent) => {
          const envelope = this.wrap(queue, data, opts.correlationId, traceparent);
          const added = await q.add(CONTRACTS[queue].type, envelope, {
            jobId: opts.jobId,
            delay: opts.delayMs,
          });
          const id = added.id ?? opts.jobId;
          if (opts.payloadChecked) return { id };
          // BullMQ keeps the first job under an id and ignores later adds: read back what is
          // stored, so that a reused business key with another payload is an error, on any replica
          const stored = (await q.getJob(id))?.data as Envelope<Q> | undefined;
          const created = !stored || stored.id === envelope.id;
          if (!created && canonical(stored.data) !== canonical(envelope.data))
            throw new MessagingError(
              'JOB_ID_REUSED',
              `${queue} job ${id} already exists with a different payload`,
            );
          return { id, created };
        }),
    };
  }

  /** Validates and wraps a payload; exported behaviour for tests and HTTP edges. */
  wrap<Q extends QueueName>(
    queue: Q,
    data: JobData<Q>,
    correlationId?: string,
    traceparent?: string,
  ): Envelope<Q> {
    const envelope = {
      id: `evt_${randomUUID()}`,
      type: CONTRACTS[queue].type,
      version: CONTRACTS[queue].version,
      occurredAt: new Date().toISOString(),
      correlationId: correlationId ?? `cor_${randomUUID()}`,
      ...(traceparent ? { traceparent } : {}),
      data,
    };
    const parsed = envelopeSchema(queue).safeParse(envelope);
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
      throw new MessagingError('CONTRACT_VIOLATION', `invalid ${queue} job: ${detail}`);
    }
    const secret = findSecretShape(envelope.data);
    if (secret) {
      throw new MessagingError(
        'SECRET_IN_PAYLOAD',
        `refusing to enqueue ${queue} job: ${secret.path} looks like ${secret.shape}; job data is stored in plain text`,
      );
    }
    return parsed.data as Envelope<Q>;
  }

  consume<Q extends QueueName>(
    queue: Q,
    handler: JobHandler<Q>,
    options: ConsumeOptions = {},
  ): void {
    if (!grantOf(this.service).queues.consumes.includes(queue)) {
      throw new MessagingError(
        'QUEUE_NOT_GRANTED',
        `${this.service} may not consume queue "${queue}": the access matrix does not grant it`,
      );
    }
    if (this.handlers.has(queue)) {
      throw new MessagingError(
        'HANDLER_DUPLICATE',
        `queue "${queue}" already has a handler in ${this.service}`,
      );
    }
    this.handlers.set(queue, { handler: handler as JobHandler<QueueName>, options });
  }

  /** Starts the workers. Every consumed queue must have exactly one handler. */
  async start(): Promise<void> {
    const missing = grantOf(this.service).queues.consumes.filter((q) => !this.handlers.has(q));
    if (missing.length > 0) {
      throw new MessagingError(
        'HANDLER_MISSING',
        `${this.service} consumes ${missing.join(', ')} but registered no handler for it`,
      );
    }
    if (this.started) return;
    this.started = true;
    for (const [queue, { handler, options }] of this.handlers) {
      this.workers.push(this.worker(queue, handler, options));
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  private worker(
    queue: QueueName,
    handler: JobHandler<QueueName>,
    options: ConsumeOptions,
  ): Worker {
    const schema = envelopeSchema(queue);
    const worker: Worker = new Worker(
      bullQueueName(queue),
      this.observed(queue, async (job: Job, token?: string) => {
        const parsed = schema.safeParse(job.data);
        if (!parsed.success) {
          throw new UnrecoverableError(`job ${job.id} does not match the ${queue} contract`);
        }
        const envelope = parsed.data as Envelope<QueueName>;
        const jobId = String(job.id);
        const log = this.jobLog(queue, job);
        log({ event: 'taken' });
        const startedAt = performance.now();
        return withConsumerSpan(queue, jobId, envelope.traceparent, async () => {
          try {
            const result = await handler(envelope, {
              id: jobId,
              attemptsMade: job.attemptsMade,
              attemptsStarted: job.attemptsStarted,
              attempts: job.opts.attempts ?? 1,
            });
            log({ event: 'succeeded', durationMs: Math.round(performance.now() - startedAt) });
            return result;
          } catch (err) {
            if (err instanceof PermanentJobError) throw new UnrecoverableError(err.message);
            if (err instanceof RescheduleJobError) {
              await job.moveToDelayed(Date.now() + err.delayMs, token);
              log({ event: 'retry_scheduled', waitMs: err.delayMs, reason: err.message });
              throw new DelayedError();
            }
            throw err;
          }
        });
      }),
      {
        connection: this.connection(true),
        prefix: this.options.prefix,
        concurrency: options.concurrency ?? 4,
        limiter: options.limiter
          ? { max: options.limiter.max, duration: options.limiter.durationMs }
          : undefined,
        settings: {
          backoffStrategy: (attemptsMade: number) => this.retry.delay(attemptsMade),
        },
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: this.options.stalledIntervalMs ?? 30_000,
        maxStalledCount: 3,
        removeOnComplete: { age: 3600, count: 10_000 },
        removeOnFail: { age: 7 * 24 * 3600 },
      },
    );
    worker.on('error', (err) => this.options.onError?.(err, `worker:${queue}`));
    // after BullMQ settled the failure: `finishedOn` set means no attempt is left, else the
    // retry's wait (from the backoff strategy) is the job's `delay`
    worker.on('failed', (job, err) => {
      if (!job) return;
      const final =
        Boolean(job.finishedOn) ||
        err instanceof UnrecoverableError ||
        job.attemptsMade >= (job.opts.attempts ?? 1);
      const log = this.jobLog(queue, job, 0); // attemptsMade already counts this attempt
      if (final) log({ event: 'failed', reason: err.message });
      else log({ event: 'retry_scheduled', waitMs: job.delay, reason: err.message });
    });
    return worker;
  }

  /** Logs one job's steps with its ids, read defensively: the job may break its contract. */
  private jobLog(queue: QueueName, job: Job, attemptOffset = 1) {
    const data = job.data as { correlationId?: unknown; traceparent?: unknown } | undefined;
    const correlationId =
      typeof data?.correlationId === 'string' && /^[\w.:-]{1,128}$/.test(data.correlationId)
        ? data.correlationId
        : undefined;
    const base = {
      queue,
      jobId: String(job.id),
      attempt: job.attemptsMade + attemptOffset,
      correlationId,
      traceId: traceIdOf(data?.traceparent),
    };
    return (step: Pick<JobLogEvent, 'event' | 'durationMs' | 'waitMs' | 'reason'>) =>
      this.options.onJob?.({ ...base, ...step });
  }

  /**
   * Wraps a processor so `onJobRun` hears how each run ended and how long it took, from what
   * the worker already holds (no Redis call).
   */
  private observed(
    queue: QueueName,
    processor: (job: Job, token?: string) => Promise<unknown>,
  ): (job: Job, token?: string) => Promise<unknown> {
    const onJobRun = this.options.onJobRun;
    if (!onJobRun) return processor;
    return async (job, token) => {
      const started = performance.now();
      const waitSeconds =
        job.attemptsStarted <= 1
          ? Math.max(0, Date.now() - job.timestamp - (job.opts.delay ?? 0)) / 1000
          : undefined;
      const report = (outcome: JobOutcome) =>
        onJobRun({
          queue,
          outcome,
          waitSeconds,
          processingSeconds: (performance.now() - started) / 1000,
        });
      try {
        const result = await processor(job, token);
        report('succeeded');
        return result;
      } catch (err) {
        report(runOutcome(job, err));
        throw err;
      }
    };
  }

  /**
   * A job's status, read from Redis (so every replica of the service answers the same):
   * waiting, active, delayed or retrying is `queued`; `result` is what the handler returned.
   * Undefined for an unknown id, or once the finished job has been removed (an hour, or the
   * newest 10,000, for completed jobs).
   */
  async status(queue: QueueName, jobId: string): Promise<JobStatus | undefined> {
    if (!queuesOf(this.service).includes(queue)) {
      throw new MessagingError(
        'QUEUE_NOT_GRANTED',
        `${this.service} may not read queue "${queue}": the access matrix does not grant it`,
      );
    }
    const job = await this.queue(queue).getJob(jobId);
    if (!job) return undefined;
    const state = await job.getState();
    if (state === 'unknown') return undefined;
    if (state === 'completed') {
      // the job may have completed between the read and the state check: read its result again
      const done = job.returnvalue ?? (await this.queue(queue).getJob(jobId))?.returnvalue;
      return { state: 'succeeded', result: (done as JobResult | null) ?? undefined };
    }
    return { state: state === 'failed' ? 'failed' : 'queued' };
  }

  /**
   * Lifecycle events of a queue this service produces to or consumes (QueueEvents, a
   * blocking XREAD on the queue's own events stream, so the same ACL user suffices).
   * Reads from the moment of the call (stream ids are Redis server time; `sinceMs` replays
   * from earlier), so nothing is lost between the call and the first XREAD.
   */
  async events(queue: QueueName, sinceMs = Date.now()): Promise<JobEvents> {
    if (!queuesOf(this.service).includes(queue)) {
      throw new MessagingError(
        'QUEUE_NOT_GRANTED',
        `${this.service} may not watch queue "${queue}": the access matrix does not grant it`,
      );
    }
    const listener = new QueueEvents(bullQueueName(queue), {
      connection: this.connection(true),
      prefix: this.options.prefix,
      lastEventId: `${sinceMs}-0`,
    });
    listener.on('error', (err) => this.options.onError?.(err, `events:${queue}`));
    this.listeners.push(listener);
    await listener.waitUntilReady();
    return {
      on: (event, cb) => {
        switch (event) {
          case 'failed':
            listener.on('failed', ({ jobId, failedReason }) => cb(jobId, failedReason));
            break;
          case 'delayed':
            listener.on('delayed', ({ jobId }) => cb(jobId, ''));
            break;
          case 'waiting':
            listener.on('waiting', ({ jobId }) => cb(jobId, ''));
            break;
          case 'active':
            listener.on('active', ({ jobId }) => cb(jobId, ''));
            break;
          case 'completed':
            listener.on('completed', ({ jobId }) => cb(jobId, ''));
            break;
          case 'stalled':
            listener.on('stalled', ({ jobId }) => cb(jobId, ''));
            break;
        }
      },
    };
  }

  private queue(queue: QueueName): Queue {
    let q = this.queues.get(queue);
    if (!q) {
      q = new Queue(bullQueueName(queue), {
        connection: this.connection(false),
        prefix: this.options.prefix,
        defaultJobOptions: {
          attempts: this.options.attempts ?? this.retry.attempts,
          backoff: { type: CAPPED_BACKOFF, delay: this.retry.baseMs },
          removeOnComplete: { age: 3600, count: 10_000 },
          removeOnFail: { age: 7 * 24 * 3600 },
        },
      });
      q.on('error', (err) => this.options.onError?.(err, `queue:${queue}`));
      this.queues.set(queue, q);
    }
    return q;
  }

  /**
   * A rotated Redis password: later (re)connections authenticate with it. Existing sockets
   * stay authenticated until they drop (the incident runbook kills them with CLIENT KILL).
   */
  updatePassword(password: string): void {
    this.options.redis.password = password;
    for (const c of this.connections) {
      if (!c.isCluster) {
        (c as Redis).options.password = password;
        continue;
      }
      // a cluster connects to each node with its redisOptions; the pool keeps its own copy
      const cluster = c as Cluster;
      if (cluster.options.redisOptions) cluster.options.redisOptions.password = password;
      const pool = (cluster as unknown as { connectionPool?: { redisOptions?: RedisOptions } })
        .connectionPool;
      if (pool?.redisOptions) pool.redisOptions.password = password;
      for (const node of cluster.nodes()) node.options.password = password;
    }
  }

  /** Counts per state of a queue this service touches (metrics at scrape time, tests, the demo). */
  async counts(queue: QueueName): Promise<Record<string, number>> {
    return this.queue(queue).getJobCounts('wait', 'active', 'delayed', 'completed', 'failed');
  }

  async ping(): Promise<void> {
    const conn = this.connections[0] ?? this.connection(false);
    await conn.ping();
  }

  /**
   * Shutdown, first step: the workers stop taking jobs at once and the jobs in flight get
   * `graceMs` to finish; past that the workers close anyway (a job cut off keeps its lock
   * until it expires, then runs again, under the same business key).
   */
  async stopWorkers(graceMs: number): Promise<{ drained: boolean }> {
    const workers = this.workers.splice(0);
    let timer: NodeJS.Timeout | undefined;
    const drained = await Promise.race([
      Promise.all(workers.map((w) => w.pause())).then(() => true),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
    ]);
    clearTimeout(timer);
    await Promise.all(workers.map((w) => w.close(!drained)));
    return { drained };
  }

  /** Workers first (in-flight jobs finish), then event listeners and queues, then sockets. */
  async close(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.close()));
    await Promise.all(this.listeners.splice(0).map((l) => l.close()));
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    this.queues.clear();
    for (const c of this.connections.splice(0)) c.disconnect();
  }
}

/** A failed run is final when it may not retry or has no attempt left; otherwise it retries. */
function runOutcome(job: Job, err: unknown): JobOutcome {
  if (err instanceof DelayedError) return 'retry';
  if (err instanceof UnrecoverableError) return 'failed';
  return job.attemptsMade + 1 >= (job.opts.attempts ?? 1) ? 'failed' : 'retry';
}

export const createMessaging = (options: MessagingOptions) => new Messaging(options);
