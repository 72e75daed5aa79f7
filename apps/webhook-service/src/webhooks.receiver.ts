import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import {
  OutboxSweep,
  enqueueRequest,
  fingerprintOf,
  orUnavailable,
  providerWebhookEvent,
  type RequestRecords,
} from '@lpi/integration-runtime';
import { findSecretShape, isRedisUnavailable, type JobData, type Producer } from '@lpi/messaging';
import { AppError, tagActiveSpan } from '@lpi/service-bootstrap';
import type { Logger } from 'pino';
import type { WebhookSecret } from './webhook-secret';

/** The columns of `webhooks.events` an event's job is kept in (besides its webhook-id). */
export const EVENT_COLUMNS = ['event_type', 'object_id', 'amount', 'currency'] as const;
/** BullMQ refuses a job id with `:` (any printable id may arrive): encoded, one-to-one. */
const jobIdOf = (webhookId: string) => `wh-${encodeURIComponent(webhookId)}`;

export interface WebhookHeaders {
  'webhook-id'?: string;
  'webhook-timestamp'?: string;
  'webhook-signature'?: string;
}

export type Warn = (message: string) => void;

/**
 * One delivery: signature and timestamp checked over the raw bytes; a signed event we do not
 * handle (unknown shape, odd fields) acknowledged, logged and dropped (a 4xx would only make
 * the provider retry it for days); otherwise stored under its webhook-id (`webhooks.events`,
 * durable: a replay, on any replica and after any restart, is acknowledged and dropped) and
 * queued. Redis away after the store is the outbox's problem, not the provider's.
 */
export class WebhookReceiver {
  constructor(
    private readonly secret: WebhookSecret,
    private readonly events: Producer<'provider-events'>,
    private readonly records: RequestRecords,
    private readonly warn: Warn,
  ) {}

  /** `requestId`: the delivery's request id, the queued event's correlation id. */
  async receive(
    h: WebhookHeaders,
    rawBody: Buffer | undefined,
    requestId?: string,
  ): Promise<'queued' | 'ignored'> {
    const id = h['webhook-id'] ?? '';
    if (!id || !h['webhook-signature'] || !h['webhook-timestamp'])
      throw this.refuse(
        400,
        'webhook_unsigned',
        'missing webhook-id, webhook-timestamp or webhook-signature',
      );
    if (!/^[\x21-\x7e]{1,128}$/.test(id))
      throw this.refuse(400, 'webhook_id_invalid', 'webhook-id must be 1-128 printable characters');
    if (!rawBody?.length) throw this.refuse(400, 'webhook_no_body', 'empty or non-JSON body');
    let event: unknown;
    try {
      // checks the signature over the raw bytes and the timestamp (5 min tolerance)
      event = new Webhook(this.secret.current().secret).verify(rawBody.toString('utf8'), {
        'webhook-id': id,
        'webhook-timestamp': h['webhook-timestamp'],
        'webhook-signature': h['webhook-signature'],
      });
    } catch (err) {
      const why = err instanceof WebhookVerificationError ? err.message : 'unverifiable payload';
      throw this.refuse(
        401,
        /timestamp/i.test(why) ? 'webhook_stale' : 'webhook_signature_invalid',
        why,
      );
    }
    const job = toJob(id, event);
    if (!job) {
      this.warn(`webhook ${id}: signed event of a shape this service does not handle: ignored`);
      return 'ignored';
    }
    const fields: Record<string, unknown> = { ...job };
    delete fields.webhook_id;
    const { created, stored } = await orUnavailable(
      this.records.record(id, fields),
      'the event could not be stored; deliver it again',
    );
    if (!created && (stored.state !== 'received' || stored.fingerprint !== fingerprintOf(fields))) {
      this.warn(`webhook ${id} replayed: ignored`);
      return 'ignored'; // 2xx: the provider must stop retrying, but nothing is queued twice
    }
    // its own trace: the payment's trace carries the same provider object id (ADR 0023)
    tagActiveSpan({ 'provider.object_id': job.object_id, 'webhook.event_type': job.event_type });
    try {
      await enqueueRequest(this.events, job, jobIdOf(id), 'webhook-id', requestId);
    } catch (err) {
      if (!(err instanceof AppError && err.status === 503) && !isRedisUnavailable(err)) throw err;
      return 'queued'; // stored: the outbox queues it when Redis is back
    }
    // batched, not awaited: a lost mark only lets the sweep re-add it under the same job id
    void this.records.markQueued(id).catch(() => undefined);
    return 'queued';
  }

  /** The sweep that queues stored events a crash or a Redis outage left unqueued. */
  outbox(logger?: Logger): OutboxSweep<'provider-events'> {
    return new OutboxSweep({
      records: this.records,
      producer: this.events,
      toJob: (r) => ({ webhook_id: r.id, ...r.data }) as JobData<'provider-events'>,
      jobIdOf,
      logger,
    });
  }

  private refuse(status: number, code: string, why: string): AppError {
    this.warn(`webhook refused (${code}): ${why}`);
    return new AppError(status, 'invalid_request_error', code, why);
  }
}

/** The queued form of a verified event, or undefined when it is not one we handle. */
export function toJob(webhookId: string, event: unknown): JobData<'provider-events'> | undefined {
  // the events this service forwards; a signed event of any other shape is acknowledged and dropped
  const parsed = providerWebhookEvent.safeParse(event);
  if (!parsed.success) return undefined;
  const job = {
    webhook_id: webhookId,
    event_type: parsed.data.type,
    object_id: parsed.data.data?.id ?? '',
    amount: parsed.data.data?.amount,
    currency: parsed.data.data?.currency,
  };
  return findSecretShape(job) ? undefined : job;
}
