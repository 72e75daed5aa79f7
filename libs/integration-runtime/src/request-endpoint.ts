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
import type { QueueName } from '@lpi/access-matrix';
import { findSecretShape, type JobData, type JobResult, type Producer } from '@lpi/messaging';
import { AppError, badRequest, parseInput, requestIdOf } from '@lpi/service-bootstrap';
import { businessIdFor, enqueueRequest, requestStatus, requireIdempotencyKey } from './job-helpers';
import { JobStatusReader, producerToken } from './messaging.module';

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
}

export type RequestView = Record<string, string | number | boolean | undefined>;

const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * POST: Idempotency-Key required -> JSON body validated -> business id derived from the
 * key -> enqueued under it (a retry is the same job; the key with another body is a 409;
 * Redis down is a 503). GET: the status read from the job, the same on every replica.
 */
export class RequestEndpoint<Q extends QueueName, B> {
  private readonly idPattern: RegExp;

  constructor(
    private readonly resource: RequestResource<Q, B>,
    private readonly producer: Producer<Q>,
    private readonly jobs: JobStatusReader,
  ) {
    this.idPattern = new RegExp(`^${resource.idPrefix}_[A-Za-z0-9_-]{24}$`);
  }

  async request(
    key: string | undefined,
    contentType: string | undefined,
    body: unknown,
    requestId?: string,
  ): Promise<RequestView> {
    const { path, idPrefix, idField } = this.resource;
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
    const { created } = await enqueueRequest(
      this.producer,
      this.resource.toJob(id, input),
      id,
      'Idempotency-Key',
      requestId,
    );
    // a retried request reports where the first one stands now
    return (created ? undefined : await this.find(id)) ?? { [idField]: id, status: 'queued' };
  }

  async find(id: string): Promise<RequestView | undefined> {
    if (!this.idPattern.test(id)) return undefined;
    const s = await requestStatus(this.jobs, this.resource.queue, id);
    if (!s) return undefined;
    const result: JobResult = s.result ?? {};
    return {
      [this.resource.idField]: id,
      status: s.state,
      [this.resource.resultField]: result[this.resource.resultField],
    };
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
        inject: [producerToken(resource.queue), JobStatusReader],
        useFactory: (producer: Producer<Q>, jobs: JobStatusReader) =>
          new RequestEndpoint(resource, producer, jobs),
      },
    ],
  };
}
