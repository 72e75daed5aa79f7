import {
  Controller,
  HttpCode,
  Injectable,
  Logger,
  Module,
  Post,
  Req,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Request } from 'express';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { ServiceRuntime, enqueueRequest } from '@lpi/integration-runtime';
import { AppError } from '@lpi/service-bootstrap';

const REPLAY_WINDOW_MS = 10 * 60 * 1000; // > the 5 min timestamp tolerance

@Injectable()
class WebhooksService implements OnApplicationBootstrap {
  private readonly logger = new Logger('Webhooks');
  private readonly seen = new Map<string, number>();

  constructor(private readonly runtime: ServiceRuntime) {}

  private verifier(): Webhook {
    return new Webhook(this.runtime.secrets.current().data.webhook_secret);
  }

  /** Registers (or re-registers) our endpoint with the provider, with the secret from Vault. */
  async onApplicationBootstrap(): Promise<void> {
    const url = this.runtime.config.WEBHOOK_PUBLIC_URL;
    if (!url) {
      this.logger.warn(
        'WEBHOOK_PUBLIC_URL is not set: not registering an endpoint with the provider',
      );
      return;
    }
    const existing = await this.runtime.provider.request<{ data: { id: string; url: string }[] }>({
      method: 'GET',
      path: '/v1/webhook-endpoints',
    });
    for (const e of existing.data.data.filter((x) => x.url === url)) {
      await this.runtime.provider.request({
        method: 'DELETE',
        path: `/v1/webhook-endpoints/${e.id}`,
      });
    }
    const created = await this.runtime.provider.request<{ id: string }>({
      method: 'POST',
      path: '/v1/webhook-endpoints',
      body: {
        url,
        events: ['payment.succeeded', 'refund.succeeded'],
        secret: this.runtime.secrets.current().data.webhook_secret,
      },
      idempotencyKey: `endpoint:${url}:${this.runtime.secrets.current().version}`,
    });
    this.logger.log(`webhook endpoint ${created.data.id} registered for ${url}`);
  }

  async receive(req: Request & { rawBody?: Buffer }): Promise<void> {
    const headers = {
      'webhook-id': String(req.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
    };
    const refuse = (status: number, code: string, why: string) => {
      this.logger.warn(`webhook refused (${code}): ${why}`);
      return new AppError(status, 'invalid_request_error', code, why);
    };
    if (!headers['webhook-id'] || !headers['webhook-signature'] || !headers['webhook-timestamp'])
      throw refuse(
        400,
        'webhook_unsigned',
        'missing webhook-id, webhook-timestamp or webhook-signature',
      );
    if (!req.rawBody) throw refuse(400, 'webhook_no_body', 'empty body');
    let event: { type?: string; data?: { id?: string; amount?: number; currency?: string } };
    try {
      // checks the signature over the raw bytes and the timestamp (5 min tolerance)
      event = this.verifier().verify(req.rawBody.toString('utf8'), headers) as typeof event;
    } catch (err) {
      const why = err instanceof WebhookVerificationError ? err.message : 'unverifiable payload';
      throw refuse(
        401,
        /timestamp/i.test(why) ? 'webhook_stale' : 'webhook_signature_invalid',
        why,
      );
    }
    this.expire();
    if (this.seen.has(headers['webhook-id'])) {
      this.logger.warn(`webhook ${headers['webhook-id']} replayed: ignored`);
      return; // 2xx: the provider must stop retrying, but nothing is enqueued twice
    }
    // the job id dedupes across replicas; an id counts as seen only once its event is queued,
    // so a delivery that failed (Redis down: 503) is taken again when the provider retries
    await enqueueRequest(
      this.runtime.messaging.producer('provider-events'),
      {
        webhook_id: headers['webhook-id'],
        event_type: String(event.type),
        object_id: String(event.data?.id ?? ''),
        amount: event.data?.amount,
        currency: event.data?.currency,
      },
      `wh-${headers['webhook-id']}`,
      'webhook-id',
    );
    this.seen.set(headers['webhook-id'], Date.now());
  }

  private expire(): void {
    const cutoff = Date.now() - REPLAY_WINDOW_MS;
    // insertion order is arrival order: stop at the first id still inside the window
    for (const [id, at] of this.seen) {
      if (at >= cutoff) break;
      this.seen.delete(id);
    }
  }
}

@Controller('webhooks')
class WebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Post('provider')
  @HttpCode(204)
  receive(@Req() req: Request & { rawBody?: Buffer }) {
    return this.webhooks.receive(req);
  }
}

@Module({ controllers: [WebhooksController], providers: [WebhooksService] })
export class WebhooksModule {}
