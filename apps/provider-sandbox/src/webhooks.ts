import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { newId } from './ledger';

export interface WebhookEndpoint {
  id: string;
  client_id: string;
  url: string;
  events: string[];
  secret: string;
  created_at: string;
}

export interface DeliveryAttempt {
  webhook_id: string;
  endpoint: string;
  event_type: string;
  attempt: number;
  status: number | 'network_error';
  at: string;
}

const MAX_ATTEMPTS = 6;

/** Registered endpoints and signed, retried delivery (Standard Webhooks). */
export class WebhookDispatcher {
  readonly endpoints = new Map<string, WebhookEndpoint>();
  readonly attempts: DeliveryAttempt[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(
    private readonly log: Logger,
    private readonly retryBaseMs: number,
  ) {}

  register(clientId: string, url: string, events: string[], secret?: string): WebhookEndpoint {
    const endpoint: WebhookEndpoint = {
      id: newId('we'),
      client_id: clientId,
      url,
      events,
      secret: secret ?? `whsec_${randomBytes(32).toString('base64')}`,
      created_at: new Date().toISOString(),
    };
    this.endpoints.set(endpoint.id, endpoint);
    return endpoint;
  }

  publish(type: string, object: Record<string, unknown>): void {
    const webhookId = newId('msg');
    for (const endpoint of this.endpoints.values()) {
      if (endpoint.events.length && !endpoint.events.includes(type)) continue;
      this.deliver(
        endpoint,
        webhookId,
        type,
        { type, timestamp: new Date().toISOString(), data: object },
        1,
      );
    }
  }

  private deliver(
    endpoint: WebhookEndpoint,
    webhookId: string,
    type: string,
    payload: unknown,
    attempt: number,
  ): void {
    const body = JSON.stringify(payload);
    const signedAt = new Date();
    const signature = new Webhook(endpoint.secret).sign(webhookId, signedAt, body);
    const record = (status: DeliveryAttempt['status']) =>
      this.attempts.push({
        webhook_id: webhookId,
        endpoint: endpoint.id,
        event_type: type,
        attempt,
        status,
        at: new Date().toISOString(),
      });
    fetch(endpoint.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': webhookId,
        'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
      signal: AbortSignal.timeout(5000),
    })
      .then((res) => {
        record(res.status);
        if (res.status < 200 || res.status >= 300)
          this.retry(endpoint, webhookId, type, payload, attempt);
      })
      .catch(() => {
        record('network_error');
        this.retry(endpoint, webhookId, type, payload, attempt);
      });
  }

  private retry(
    endpoint: WebhookEndpoint,
    webhookId: string,
    type: string,
    payload: unknown,
    attempt: number,
  ): void {
    if (attempt >= MAX_ATTEMPTS || !this.endpoints.has(endpoint.id)) {
      this.log.warn(
        { webhook_id: webhookId, endpoint: endpoint.id, attempts: attempt },
        'webhook delivery abandoned',
      );
      return;
    }
    const delay = this.retryBaseMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.deliver(endpoint, webhookId, type, payload, attempt + 1);
    }, delay);
    timer.unref();
    this.timers.add(timer);
  }

  close(): void {
    for (const t of this.timers) clearTimeout(t);
  }
}
