import {
  type BeforeApplicationShutdown,
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
  type Provider,
} from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { grantOf, queuesOf, type QueueName, type ServiceName } from '@lpi/access-matrix';
import {
  Messaging,
  createMessaging,
  type ConsumeOptions,
  type JobHandler,
  type JobLogEvent,
} from '@lpi/messaging';
import { ServiceSecretSource } from '@lpi/secrets';
import { METRICS_REGISTRY, ReadinessRegistry, SERVICE_LOGGER } from '@lpi/service-bootstrap';
import type { RuntimeConfig } from './runtime.config';
import { PROVIDER_JOB_OPTIONS, RUNTIME_CONFIG } from './runtime.tokens';
import { providerLimiter } from './job-helpers';
import { QueueMetrics } from './queue.metrics';

const JOB_STEP_MESSAGES: Record<JobLogEvent['event'], string> = {
  taken: 'job taken',
  succeeded: 'job succeeded',
  retry_scheduled: 'job retry scheduled',
  failed: 'job failed for good',
};

const JOB_STEP_LEVELS = {
  // every run ends in one of the other three, which carry the same ids and the duration; the
  // start is for debugging (ADR 0032: it was a quarter of reporting-service's log volume)
  taken: 'debug',
  succeeded: 'info',
  retry_scheduled: 'warn',
  failed: 'error',
} as const satisfies Record<JobLogEvent['event'], string>;

/** One line per step of a job, with the request id it came from as `correlationId`. */
export function logJobStep(
  logger: Pick<Logger, 'debug' | 'info' | 'warn' | 'error'>,
  e: JobLogEvent,
): void {
  const { event, ...fields } = e;
  const level = JOB_STEP_LEVELS[event];
  logger[level]({ job: event, ...fields }, JOB_STEP_MESSAGES[event]);
}

/** The injection token of the `Producer` for one queue: `@Inject(producerToken('payments'))`. */
export const producerToken = (queue: QueueName): string => `lpi:producer:${queue}`;

/** Where a feature registers its handler for a consumed queue (before workers start). */
export abstract class Consumers {
  abstract register<Q extends QueueName>(
    queue: Q,
    handler: JobHandler<Q>,
    options?: ConsumeOptions,
  ): void;
}

/**
 * Owns the workers' life: started once every module registered its handlers
 * (`onApplicationBootstrap`, before HTTP listens); on shutdown they stop taking jobs and the
 * ones in flight get SHUTDOWN_GRACE_MS to finish (`beforeApplicationShutdown`); then every
 * Redis connection closes (`onApplicationShutdown`).
 */
@Injectable()
class MessagingLifecycle
  implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private unwatch?: () => void;

  constructor(
    @Inject(Messaging) private readonly messaging: Messaging,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
    @Inject(ServiceSecretSource) private readonly secrets: ServiceSecretSource,
    @Inject(RUNTIME_CONFIG) private readonly config: RuntimeConfig,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.readiness.register('redis', () => this.messaging.ping());
    this.unwatch = this.secrets.watch((s) => this.messaging.updatePassword(s.data.redis_password));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.messaging.start(); // refuses to start if a consumed queue has no handler
  }

  async beforeApplicationShutdown(): Promise<void> {
    const { drained } = await this.messaging.stopWorkers(this.config.SHUTDOWN_GRACE_MS);
    if (drained) this.logger.info('workers drained: every in-flight job finished');
    else
      this.logger.warn(
        { graceMs: this.config.SHUTDOWN_GRACE_MS },
        'jobs still running at the end of the grace period were cut off; they run again elsewhere under the same provider key',
      );
  }

  async onApplicationShutdown(): Promise<void> {
    this.unwatch?.();
    await this.messaging.close();
  }
}

/**
 * The service's queues behind narrow tokens: a `Producer` per queue the matrix lets it
 * produce to, `Consumers` to register handlers. `Messaging` itself stays
 * inside this module.
 */
@Module({})
export class MessagingModule {
  static forService(service: ServiceName): DynamicModule {
    const producers: Provider[] = grantOf(service).queues.produces.map((queue) => ({
      provide: producerToken(queue),
      inject: [Messaging],
      useFactory: (m: Messaging) => m.producer(queue),
    }));
    return {
      module: MessagingModule,
      providers: [
        {
          provide: QueueMetrics,
          inject: [METRICS_REGISTRY],
          useFactory: (registry: Registry) => new QueueMetrics(registry, queuesOf(service)),
        },
        {
          provide: Messaging,
          inject: [RUNTIME_CONFIG, ServiceSecretSource, SERVICE_LOGGER, QueueMetrics],
          useFactory: (
            config: RuntimeConfig,
            secrets: ServiceSecretSource,
            logger: Logger,
            metrics: QueueMetrics,
          ) => {
            const messaging = createMessaging({
              service,
              redis: {
                host: config.REDIS_HOST,
                port: config.REDIS_PORT,
                cluster: config.REDIS_CLUSTER_NODES,
                password: secrets.current().data.redis_password,
              },
              backoffMs: config.JOB_BACKOFF_MS,
              backoffCapMs: config.JOB_BACKOFF_CAP_MS,
              retryForMs: config.JOB_RETRY_FOR_MS,
              lockDurationMs: config.QUEUE_LOCK_MS,
              stalledIntervalMs: Math.max(500, Math.floor(config.QUEUE_LOCK_MS / 2)),
              onError: (err, context) =>
                logger.warn({ context, err: { message: err.message } }, 'messaging error'),
              onJobRun: metrics.recordRun,
              onJob: (event) => logJobStep(logger, event),
            });
            metrics.countWith((queue) => messaging.counts(queue));
            return messaging;
          },
        },
        ...producers,
        {
          provide: Consumers,
          inject: [Messaging],
          useFactory: (m: Messaging): Consumers => ({
            register: (queue, handler, options) => m.consume(queue, handler, options),
          }),
        },
        {
          provide: PROVIDER_JOB_OPTIONS,
          inject: [RUNTIME_CONFIG],
          useFactory: (config: RuntimeConfig): ConsumeOptions => ({
            concurrency: config.QUEUE_CONCURRENCY,
            limiter: providerLimiter(config.PROVIDER_RATE_LIMIT_PER_MINUTE),
          }),
        },
        MessagingLifecycle,
      ],
      exports: [
        ...producers.map((p) => (p as { provide: string }).provide),
        Consumers,
        PROVIDER_JOB_OPTIONS,
      ],
    };
  }
}
