import { randomBytes } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
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
    private readonly onIssued: (values: string[]) => void = () => undefined,
  ) {}

  register(clientId: string, url: string, events: string[], secret?: string): WebhookEndpoint {
    secret ??= `whsec_${randomBytes(32).toString('base64')}`;
    this.onIssued([secret, secret.slice('whsec_'.length)]);
    const endpoint: WebhookEndpoint = {
      id: newId('we'),
      client_id: clientId,
      url,
      events,
      secret,
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
    this.post(endpoint.url, body, {
      'content-type': 'application/json',
      'webhook-id': webhookId,
      'webhook-timestamp': String(Math.floor(signedAt.getTime() / 1000)),
      'webhook-signature': signature,
    }).then(
      (status) => {
        record(status);
        if (status < 200 || status >= 300) this.retry(endpoint, webhookId, type, payload, attempt);
      },
      () => {
        record('network_error');
        this.retry(endpoint, webhookId, type, payload, attempt);
      },
    );
  }

  // node:http with keep-alive pools rather than fetch: a provider sends many small POSTs to
  // few receivers, and fetch cost about four times the CPU per delivery
  private readonly agents = {
    http: new HttpAgent({ keepAlive: true, maxSockets: 32 }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: 32 }),
  };

  private post(url: string, body: string, headers: Record<string, string>): Promise<number> {
    const target = new URL(url);
    const secure = target.protocol === 'https:';
    return new Promise((resolve, reject) => {
      const req = (secure ? httpsRequest : httpRequest)(
        target,
        {
          method: 'POST',
          agent: secure ? this.agents.https : this.agents.http,
          headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
          timeout: 5000,
        },
        (res) => {
          res.resume(); // drain, so the socket goes back to the pool
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', reject);
        },
      );
      req.once('timeout', () => req.destroy(new Error('webhook delivery timed out')));
      req.once('error', reject);
      req.end(body);
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
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
