import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { QueueName } from '@lpi/access-matrix';
import type { JobRun } from '@lpi/messaging';

/** BullMQ's count names, as the `state` label says them. */
const STATES = {
  wait: 'waiting',
  active: 'active',
  delayed: 'delayed',
  failed: 'failed',
  completed: 'completed',
} as const;

export type QueueCounts = (queue: QueueName) => Promise<Record<string, number>>;

/**
 * The service's queue figures: runs by outcome and their wait and processing times, counted
 * as the worker finishes each run (no Redis call); jobs per state read from Redis only when
 * Prometheus scrapes.
 */
export class QueueMetrics {
  private readonly processed: Counter<'queue' | 'outcome'>;
  private readonly wait: Histogram<'queue'>;
  private readonly processing: Histogram<'queue'>;
  private counts?: QueueCounts;

  constructor(registry: Registry, queues: readonly QueueName[]) {
    const counts = () => this.counts;
    new Gauge({
      name: 'lpi_queue_jobs',
      help: 'jobs per state in the queues this service produces to or consumes, read at scrape time',
      labelNames: ['queue', 'state'],
      registers: [registry],
      async collect() {
        this.reset();
        const read = counts();
        if (!read) return;
        // Redis away: no figure rather than a stale one (readiness says why)
        const all = await Promise.all(queues.map((q) => read(q).catch(() => undefined)));
        queues.forEach((queue, i) => {
          for (const [name, state] of Object.entries(STATES))
            if (all[i]) this.set({ queue, state }, all[i][name] ?? 0);
        });
      },
    });
    this.processed = new Counter({
      name: 'lpi_jobs_processed_total',
      help: 'job runs by outcome: succeeded, retry (runs again later) or failed (for good)',
      labelNames: ['queue', 'outcome'],
      registers: [registry],
    });
    this.wait = new Histogram({
      name: 'lpi_job_wait_seconds',
      help: 'time from a job being due to its first start',
      labelNames: ['queue'],
      buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 1800],
      registers: [registry],
    });
    this.processing = new Histogram({
      name: 'lpi_job_processing_seconds',
      help: 'time one run of a job took in its handler',
      labelNames: ['queue'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }

  /** Where scrape-time counts come from (the service's `Messaging`). */
  countWith(counts: QueueCounts): void {
    this.counts = counts;
  }

  /** For `MessagingOptions.onJobRun`. */
  readonly recordRun = (run: JobRun): void => {
    this.processed.inc({ queue: run.queue, outcome: run.outcome });
    this.processing.observe({ queue: run.queue }, run.processingSeconds);
    if (run.waitSeconds !== undefined) this.wait.observe({ queue: run.queue }, run.waitSeconds);
  };
}
