import {
  Body,
  Controller,
  type DynamicModule,
  Get,
  Headers,
  HttpCode,
  Inject,
  Module,
  Param,
  Post,
  Req,
} from '@nestjs/common';
import type { ZodType } from 'zod';
import type { Logger } from 'pino';
import type { QueueName, TableName } from '@lpi/access-matrix';
import { findSecretShape, isRedisUnavailable, type JobData, type Producer } from '@lpi/messaging';
import {
  AppError,
  SERVICE_LOGGER,
  badRequest,
  parseInput,
  requestIdOf,
} from '@lpi/service-bootstrap';
import { businessIdFor, enqueueRequest, requireIdempotencyKey } from './job-helpers';
import { producerToken } from './messaging.module';
import { OutboxSweep } from './outbox';
import {
  RecordsFactory,
  fingerprintOf,
  orUnavailable,
  type RequestRecords,
  type StoredRecord,
} from './records';

/** A client-facing resource whose creation is a queued job: payments, refunds. */
export interface RequestResource<Q extends QueueName, B> {
  /** URL path and plural noun: `payments`. */
  path: string;
  queue: Q;
  idPrefix: 'pay' | 'ref';
  /** The business id's field in responses and job data: `payment_id`. */
  idField: string;
  /** The job result's field the status response carries: `provider_payment_id`. */
  resultField: string;
  /** Stable code of the 404: `payment_not_found`. */
  notFoundCode: string;
  body: ZodType<B>;
  toJob(id: string, input: B): JobData<Q>;
  /** The service's own table the request is stored in before it is queued. */
  table: TableName;
  /** The job data's fields (besides the id) that table keeps, one column each. */
  columns: readonly string[];
}

export type RequestView = Record<string, string | number | boolean | undefined>;

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * POST: Idempotency-Key required -> JSON body validated -> business id derived from the key ->
 * stored in the service's own table (the same key with another body is a 409) -> queued under
 * that id. Redis away after the store is not the client's problem: the record is durable and
 * the outbox sweep queues it. GET: the status from the table, the same on every replica and
 * after the job is gone. PostgreSQL away is a 503 (nothing accepted; a retry is safe).
 */
export class RequestEndpoint<Q extends QueueName, B> {
  private readonly idPattern: RegExp;

  constructor(
    private readonly resource: RequestResource<Q, B>,
    private readonly producer: Producer<Q>,
    readonly records: RequestRecords,
    private readonly logger?: Pick<Logger, 'warn'>,
  ) {
    this.idPattern = new RegExp(`^${resource.idPrefix}_[A-Za-z0-9_-]{24}$`);
  }

  async request(
    key: string | undefined,
    contentType: string | undefined,
    body: unknown,
    requestId?: string,
  ): Promise<RequestView> {
    const { path, idPrefix } = this.resource;
    const idempotencyKey = requireIdempotencyKey(key, `POST /${path}`);
    if (!JSON_TYPE.test(contentType ?? ''))
      throw new AppError(
        415,
        'invalid_request_error',
        'unsupported_media_type',
        `POST /${path} takes a JSON body (content-type: application/json)`,
      );
    const input = parseInput(this.resource.body, body);
    refuseSecretShapes(input);
    const id = businessIdFor(idPrefix, idempotencyKey);
    const job = this.resource.toJob(id, input);
    const fields = this.fieldsOf(job);
    const { created, stored } = await orUnavailable(
      this.records.record(id, fields),
      'the request could not be stored; retry it with the same Idempotency-Key',
    );
    if (!created && stored.fingerprint !== fingerprintOf(fields))
      throw new AppError(
        409,
        'conflict_error',
        'idempotency_key_reused',
        'this Idempotency-Key was already used with a different request body',
      );
    if (stored.state === 'received') await this.queue(job, id, requestId);
    // a retried request reports where the first one stands now
    return created ? this.view({ ...stored, state: 'queued' }) : this.view(stored);
  }

  async find(id: string): Promise<RequestView | undefined> {
    if (!this.idPattern.test(id)) return undefined;
    const stored = await orUnavailable(
      this.records.find(id),
      'the status cannot be read right now; retry shortly',
    );
    return stored && this.view(stored);
  }

  async get(id: string): Promise<RequestView> {
    const found = await this.find(id);
    if (!found)
      throw new AppError(
        404,
        'not_found_error',
        this.resource.notFoundCode,
        `no ${this.resource.path.replace(/s$/, '')} ${id}`,
      );
    return found;
  }

  /** The sweep that queues what a crash or a Redis outage left stored but not queued. */
  outbox(logger?: Logger): OutboxSweep<Q> {
    const { idField } = this.resource;
    return new OutboxSweep({
      records: this.records,
      producer: this.producer,
      toJob: (r) => ({ [idField]: r.id, ...r.data }) as JobData<Q>,
      jobIdOf: (id) => id,
      logger,
    });
  }

  private async queue(job: JobData<Q>, id: string, requestId?: string): Promise<void> {
    try {
      await enqueueRequest(this.producer, job, id, 'Idempotency-Key', requestId);
    } catch (err) {
      if (!(err instanceof AppError && err.status === 503) && !isRedisUnavailable(err)) throw err;
      this.logger?.warn({ id }, 'stored, not queued yet (Redis unavailable): the outbox queues it');
      return;
    }
    // batched, not awaited: a lost mark leaves it `received`, and the sweep adds it again
    // under the same job id (a no-op)
    void this.records.markQueued(id).catch(() => undefined);
  }

  private fieldsOf(job: JobData<Q>): Record<string, unknown> {
    const fields: Record<string, unknown> = { ...(job as Record<string, unknown>) };
    delete fields[this.resource.idField];
    return fields;
  }

  private view(stored: StoredRecord): RequestView {
    const status = stored.state === 'received' ? 'queued' : stored.state;
    return {
      [this.resource.idField]: stored.id,
      status,
      [this.resource.resultField]: stored.providerId,
    };
  }
}

/**
 * Free text that looks like a card number, a token or key material is refused at the edge
 * (job data is stored in plain text): 400 naming the field, never echoing the value.
 */
export function refuseSecretShapes(input: unknown): void {
  const hit = findSecretShape(input, 'body');
  if (hit)
    throw badRequest(
      'sensitive_value_refused',
      `${hit.path.replace(/^body\./, '')} looks like ${hit.shape}; such values are not accepted here (requests are stored in plain text): remove it`,
    );
}

/** Where a job handler finds the records its endpoint stores (to settle them). */
export const recordsToken = (table: TableName): string => `records:${table}`;

/** One module serving `POST /<path>` and `GET /<path>/:id` for a queued resource. */
export function requestEndpointModule<Q extends QueueName, B>(
  resource: RequestResource<Q, B>,
): DynamicModule {
  const ENDPOINT = Symbol(`${resource.path} endpoint`);

  @Controller(resource.path)
  class RequestController {
    constructor(@Inject(ENDPOINT) private readonly endpoint: RequestEndpoint<Q, B>) {}

    @Post()
    @HttpCode(202)
    create(
      @Headers('idempotency-key') key: string | undefined,
      @Headers('content-type') contentType: string | undefined,
      @Body() body: unknown,
      @Req() req: { id?: unknown; headers?: Record<string, unknown> },
    ) {
      return this.endpoint.request(key, contentType, body, requestIdOf(req));
    }

    @Get(':id')
    get(@Param('id') id: string) {
      return this.endpoint.get(id);
    }
  }

  @Module({})
  class RequestEndpointModule {}

  return {
    module: RequestEndpointModule,
    controllers: [RequestController],
    providers: [
      {
        provide: ENDPOINT,
        inject: [producerToken(resource.queue), RecordsFactory, SERVICE_LOGGER],
        useFactory: (producer: Producer<Q>, records: RecordsFactory, logger: Logger) =>
          new RequestEndpoint(
            resource,
            producer,
            records.open(resource.table, resource.columns),
            logger,
          ),
      },
      {
        provide: recordsToken(resource.table),
        inject: [ENDPOINT],
        useFactory: (e: RequestEndpoint<Q, B>) => e.records,
      },
      {
        // the sweep that queues what a crash or a Redis outage left stored (its own lifecycle)
        provide: Symbol(`${resource.path} outbox`),
        inject: [ENDPOINT, SERVICE_LOGGER],
        useFactory: (e: RequestEndpoint<Q, B>, logger: Logger) => e.outbox(logger),
      },
    ],
    exports: [recordsToken(resource.table)],
  };
}
