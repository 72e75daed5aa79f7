import { type DynamicModule, Global, Module } from '@nestjs/common';
import { grantOf, type QueueName, type ServiceName } from '@lpi/access-matrix';
import { ProviderClient, type ProviderRequest, type ProviderResponse } from '@lpi/auth';
import {
  MessagingError,
  type AddOptions,
  type ConsumeOptions,
  type JobHandler,
  type Producer,
} from '@lpi/messaging';
import { Database } from '@lpi/database';
import { ServiceSecretSource, type ServiceSecret } from '@lpi/secrets';
import { ServiceBootstrapModule } from '@lpi/service-bootstrap';
import { Consumers, producerToken } from './messaging.module';
import { MemoryRequestRecords, RecordsFactory } from './records';
import { PROVIDER_JOB_OPTIONS, RUNTIME_CONFIG, SERVICE_NAME } from './runtime.tokens';

export type FakeProvider = (req: ProviderRequest) => Promise<ProviderResponse<unknown>>;

/**
 * In-memory ports for a service's unit specs, behind the same injection tokens as
 * `IntegrationRuntimeModule`: producers that keep what was added (and refuse a reused id
 * with another payload, as Redis does), the registered handlers, a
 * scripted provider, a fixed secret and in-memory request records. `redisDown` makes every
 * queue call fail as an unreachable Redis does.
 */
export class FakeRuntime {
  readonly added = new Map<QueueName, { data: unknown; options: AddOptions }[]>();
  readonly handlers = new Map<QueueName, JobHandler<QueueName>>();
  readonly providerCalls: ProviderRequest[] = [];
  /** the in-memory records each endpoint stores into, by table */
  readonly records = new Map<string, MemoryRequestRecords>();
  redisDown = false;
  secret: ServiceSecret;
  /** a real database for a feature whose queries are the point (reporting); none by default */
  database?: Database;

  constructor(
    readonly service: ServiceName,
    public provider: FakeProvider = async () => ({ status: 200, data: {}, headers: {} }),
    secret: Partial<ServiceSecret['data']> = {},
    private readonly config: Record<string, unknown> = {},
  ) {
    this.secret = { version: 1, data: secret as ServiceSecret['data'] };
  }

  private unreachable(): Error {
    return Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), {
      code: 'ECONNREFUSED',
    });
  }

  producer<Q extends QueueName>(queue: Q): Producer<Q> {
    return {
      add: async (data, options) => {
        if (this.redisDown) throw this.unreachable();
        const list = this.added.get(queue) ?? [];
        this.added.set(queue, list);
        const existing = list.find((a) => a.options.jobId === options.jobId);
        if (existing && JSON.stringify(existing.data) !== JSON.stringify(data))
          throw new MessagingError('JOB_ID_REUSED', `${queue} job ${options.jobId} exists`);
        if (!existing) {
          list.push({ data, options });
        }
        return { id: options.jobId, created: !existing };
      },
    };
  }

  /** Nest module to import in place of `IntegrationRuntimeModule.forService`. */
  module(): DynamicModule {
    const produces = grantOf(this.service).queues.produces;
    const providers = [
      { provide: SERVICE_NAME, useValue: this.service },
      { provide: RUNTIME_CONFIG, useValue: { WEBHOOK_PUBLIC_URL: undefined, ...this.config } },
      { provide: PROVIDER_JOB_OPTIONS, useValue: { concurrency: 1 } satisfies ConsumeOptions },
      ...produces.map((q) => ({ provide: producerToken(q), useValue: this.producer(q) })),
      {
        provide: Consumers,
        useValue: {
          register: ((queue: QueueName, handler: JobHandler<QueueName>) => {
            if (this.handlers.has(queue)) throw new Error(`two handlers for ${queue}`);
            this.handlers.set(queue, handler);
          }) as Consumers['register'],
        },
      },
      {
        provide: ProviderClient,
        useValue: {
          request: async (req: ProviderRequest) => {
            this.providerCalls.push(req);
            return this.provider(req);
          },
        },
      },
      {
        provide: ServiceSecretSource,
        useValue: { current: () => this.secret, watch: () => () => undefined },
      },
      {
        provide: RecordsFactory,
        useValue: {
          open: (table: string, columns: readonly string[]) => {
            const records = this.records.get(table) ?? new MemoryRequestRecords(columns);
            this.records.set(table, records);
            return records;
          },
        } satisfies RecordsFactory,
      },
      { provide: Database, useFactory: () => this.database },
    ];
    return {
      module: FakeRuntimeModule,
      imports: [ServiceBootstrapModule.forService({ service: this.service, logLevel: 'silent' })],
      providers,
      exports: providers.map((p) => p.provide),
    };
  }
}

@Global()
@Module({})
class FakeRuntimeModule {}
