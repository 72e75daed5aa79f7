import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { enqueueRequest, providerWebhookEvent } from '@lpi/integration-runtime';
import { findSecretShape, type JobData, type Producer } from '@lpi/messaging';
import { AppError, tagActiveSpan } from '@lpi/service-bootstrap';
import type { WebhookSecret } from './webhook-secret';

const REPLAY_WINDOW_MS = 10 * 60 * 1000; // > the 5 min timestamp tolerance

export interface WebhookHeaders {
  'webhook-id'?: string;
  'webhook-timestamp'?: string;
  'webhook-signature'?: string;
}

export type Warn = (message: string) => void;

/**
 * One delivery: signature and timestamp checked over the raw bytes; a replay (same
 * webhook-id within the window) acknowledged and dropped; a signed event we do not handle
 * (unknown shape, odd fields) acknowledged, logged and dropped (a 4xx would only make the
 * provider retry it for days); otherwise queued under its webhook-id.
 */
export class WebhookReceiver {
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly secret: WebhookSecret,
    private readonly events: Producer<'provider-events'>,
    private readonly warn: Warn,
    private readonly now: () => number = Date.now,
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
    this.expire();
    if (this.seen.has(id)) {
      this.warn(`webhook ${id} replayed: ignored`);
      return 'ignored'; // 2xx: the provider must stop retrying, but nothing is enqueued twice
    }
    const job = toJob(id, event);
    if (!job) {
      this.warn(`webhook ${id}: signed event of a shape this service does not handle: ignored`);
      this.seen.set(id, this.now());
      return 'ignored';
    }
    // the job id dedupes across replicas; an id counts as seen only once its event is queued,
    // so a delivery that failed (Redis down: 503) is taken again when the provider retries
    // its own trace: the payment's trace carries the same provider object id (ADR 0023)
    tagActiveSpan({ 'provider.object_id': job.object_id, 'webhook.event_type': job.event_type });
    await enqueueRequest(this.events, job, `wh-${id}`, 'webhook-id', requestId);
    this.seen.set(id, this.now());
    return 'queued';
  }

  private refuse(status: number, code: string, why: string): AppError {
    this.warn(`webhook refused (${code}): ${why}`);
    return new AppError(status, 'invalid_request_error', code, why);
  }

  private expire(): void {
    const cutoff = this.now() - REPLAY_WINDOW_MS;
    // insertion order is arrival order: stop at the first id still inside the window
    for (const [id, at] of this.seen) {
      if (at >= cutoff) break;
      this.seen.delete(id);
    }
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
