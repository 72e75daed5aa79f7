import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import type { Logger } from 'pino';
import type { QueueName } from '@lpi/access-matrix';
import { isRedisUnavailable, type JobData, type Producer } from '@lpi/messaging';
import { isDatabaseUnavailable } from '@lpi/database';
import type { RequestRecords, StoredRecord } from './records';

export interface OutboxOptions<Q extends QueueName> {
  records: RequestRecords;
  producer: Producer<Q>;
  /** The job a stored record becomes (the same data the request was queued with). */
  toJob(record: StoredRecord): JobData<Q>;
  jobIdOf(id: string): string;
  logger?: Logger;
  /** How old a record must be before the sweep takes it (the request path queues it itself). */
  graceMs?: number;
  intervalMs?: number;
}

/**
 * Queues what was stored but not queued: a crash between the insert and the add, or Redis
 * away when the request came. The job id is the record's, so a record queued twice (two
 * replicas sweeping, a request racing the sweep) is one job; the provider key derives from
 * the same id, so nothing is charged twice.
 */
export class OutboxSweep<Q extends QueueName>
  implements OnApplicationBootstrap, BeforeApplicationShutdown
{
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private failing = false;

  constructor(private readonly o: OutboxOptions<Q>) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** As a Nest provider: sweeps once the app is up, stops before the queues close. */
  onApplicationBootstrap(): void {
    this.start();
  }

  beforeApplicationShutdown(): Promise<void> {
    return this.stop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await this.o.records.flush?.().catch(() => undefined);
  }

  /** One pass; returns how many records it queued. */
  async sweep(limit = 100): Promise<number> {
    const pending = await this.o.records.unqueued(this.o.graceMs ?? 2000, limit);
    const marks: Promise<void>[] = [];
    for (const record of pending) {
      await this.o.producer.add(this.o.toJob(record), { jobId: this.o.jobIdOf(record.id) });
      marks.push(this.o.records.markQueued(record.id));
    }
    await Promise.all(marks); // one batch
    return pending.length;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => this.schedule());
    }, this.o.intervalMs ?? 1000);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    try {
      const queued = await this.sweep();
      if (queued) this.o.logger?.info({ queued }, 'outbox: stored requests queued');
      if (this.failing) this.o.logger?.info('outbox: queueing again');
      this.failing = false;
    } catch (err) {
      const outage = isRedisUnavailable(err) || isDatabaseUnavailable(err);
      // one line per outage, not one per pass
      if (!this.failing || !outage)
        this.o.logger?.warn(
          { err: { message: (err as Error).message } },
          'outbox: sweep failed; retrying',
        );
      this.failing = true;
    }
  }
}
