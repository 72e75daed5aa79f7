import {
  Controller,
  Headers,
  HttpCode,
  Inject,
  Injectable,
  Logger,
  Module,
  Post,
  Req,
  type OnApplicationBootstrap,
} from '@nestjs/common';
import type { Logger as PinoLogger } from 'pino';
import { ProviderClient } from '@lpi/auth';
import {
  RUNTIME_CONFIG,
  RecordsFactory,
  producerToken,
  type RuntimeConfig,
} from '@lpi/integration-runtime';
import type { Producer } from '@lpi/messaging';
import { ServiceSecretSource } from '@lpi/secrets';
import { SERVICE_LOGGER, requestIdOf } from '@lpi/service-bootstrap';
import { WebhookSecret } from './webhook-secret';
import { EVENT_COLUMNS, WebhookReceiver, type WebhookHeaders } from './webhooks.receiver';

const WEBHOOK_URL = Symbol('WEBHOOK_PUBLIC_URL');
const OUTBOX = Symbol('webhook outbox');

/** Registers (or re-registers) our endpoint with the provider, with the secret from Vault. */
@Injectable()
class WebhookRegistration implements OnApplicationBootstrap {
  private readonly logger = new Logger('Webhooks');

  constructor(
    @Inject(ProviderClient) private readonly provider: Pick<ProviderClient, 'request'>,
    @Inject(WebhookSecret) private readonly secret: WebhookSecret,
    @Inject(WEBHOOK_URL) private readonly url: string | undefined,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const url = this.url;
    if (!url) {
      this.logger.warn(
        'WEBHOOK_PUBLIC_URL is not set: not registering an endpoint with the provider',
      );
      return;
    }
    const existing = await this.provider.request<{ data: { id: string; url: string }[] }>({
      method: 'GET',
      path: '/v1/webhook-endpoints',
    });
    for (const e of existing.data.data.filter((x) => x.url === url)) {
      await this.provider.request({ method: 'DELETE', path: `/v1/webhook-endpoints/${e.id}` });
    }
    const { secret, version } = this.secret.current();
    const created = await this.provider.request<{ id: string }>({
      method: 'POST',
      path: '/v1/webhook-endpoints',
      body: { url, events: ['payment.succeeded', 'refund.succeeded'], secret },
      idempotencyKey: `endpoint:${url}:${version}`,
    });
    this.logger.log(`webhook endpoint ${created.data.id} registered for ${url}`);
  }
}

@Controller('webhooks')
class WebhooksController {
  constructor(@Inject(WebhookReceiver) private readonly receiver: WebhookReceiver) {}

  @Post('provider')
  @HttpCode(204)
  async receive(
    @Headers() headers: WebhookHeaders,
    @Req() req: { rawBody?: Buffer; id?: unknown; headers?: Record<string, unknown> },
  ) {
    await this.receiver.receive(headers, req.rawBody, requestIdOf(req));
  }
}

@Module({
  controllers: [WebhooksController],
  providers: [
    {
      provide: WebhookSecret,
      inject: [ServiceSecretSource],
      useFactory: (secrets: ServiceSecretSource): WebhookSecret => ({
        current: () => {
          const s = secrets.current();
          return { secret: s.data.webhook_secret, version: s.version };
        },
      }),
    },
    {
      provide: WEBHOOK_URL,
      inject: [RUNTIME_CONFIG],
      useFactory: (c: RuntimeConfig) => c.WEBHOOK_PUBLIC_URL,
    },
    {
      provide: WebhookReceiver,
      inject: [WebhookSecret, producerToken('provider-events'), RecordsFactory],
      useFactory: (
        secret: WebhookSecret,
        events: Producer<'provider-events'>,
        records: RecordsFactory,
      ) => {
        const logger = new Logger('Webhooks');
        return new WebhookReceiver(
          secret,
          events,
          records.open('webhooks.events', EVENT_COLUMNS),
          (m) => logger.warn(m),
        );
      },
    },
    WebhookRegistration,
    {
      // queues stored events a crash or a Redis outage left unqueued (its own lifecycle)
      provide: OUTBOX,
      inject: [WebhookReceiver, SERVICE_LOGGER],
      useFactory: (receiver: WebhookReceiver, logger: PinoLogger) => receiver.outbox(logger),
    },
  ],
})
export class WebhooksModule {}
