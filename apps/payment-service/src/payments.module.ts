import {
  Body,
  Controller,
  Get,
  Headers,
  HttpCode,
  Injectable,
  Module,
  Param,
  Post,
  type OnModuleInit,
} from '@nestjs/common';
import { z } from 'zod';
import {
  ServiceRuntime,
  businessIdFor,
  callProviderForJob,
  enqueueRequest,
  requestStatus,
  providerLimiter,
  requireIdempotencyKey,
} from '@lpi/integration-runtime';
import { AppError, parseInput } from '@lpi/service-bootstrap';

const paymentRequest = z.strictObject({
  amount: z.number().int('must be an integer in minor units').positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  description: z.string().max(200).optional(),
});

@Injectable()
class PaymentsService implements OnModuleInit {
  constructor(private readonly runtime: ServiceRuntime) {}

  onModuleInit(): void {
    const events = this.runtime.messaging.producer('payment-events');
    this.runtime.messaging.consume(
      'payments',
      async (envelope) => {
        const p = envelope.data;
        // the provider key is derived from the business id: a re-run job never charges twice
        const charge = await callProviderForJob<{ id: string }>(this.runtime.provider, {
          method: 'POST',
          path: '/v1/payments',
          body: { amount: p.amount, currency: p.currency, description: p.description },
          idempotencyKey: `charge:${p.payment_id}`,
        });
        await events.add(
          {
            payment_id: p.payment_id,
            provider_payment_id: charge.id,
            status: 'succeeded',
            amount: p.amount,
            currency: p.currency,
          },
          { jobId: `evt-${p.payment_id}`, correlationId: envelope.correlationId },
        );
        return { provider_payment_id: charge.id };
      },
      {
        concurrency: this.runtime.config.QUEUE_CONCURRENCY,
        limiter: providerLimiter(this.runtime.config.PROVIDER_RATE_LIMIT_PER_MINUTE),
      },
    );
  }

  async request(idempotencyKey: string, body: unknown) {
    const input = parseInput(paymentRequest, body);
    const payment_id = businessIdFor('pay', idempotencyKey);
    const { created } = await enqueueRequest(
      this.runtime.messaging.producer('payments'),
      { payment_id, ...input },
      payment_id,
    );
    // a retried request reports where the first one stands now
    return (created ? undefined : await this.find(payment_id)) ?? { payment_id, status: 'queued' };
  }

  /** The payment's status from its job in Redis: the same answer on every replica. */
  async find(payment_id: string) {
    const s = await requestStatus(this.runtime.messaging, 'payments', payment_id);
    if (!s) return undefined;
    return { payment_id, status: s.state, provider_payment_id: s.result?.provider_payment_id };
  }
}

@Controller('payments')
class PaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Post()
  @HttpCode(202)
  create(@Headers('idempotency-key') key: string | undefined, @Body() body: unknown) {
    return this.payments.request(requireIdempotencyKey(key, 'POST /payments'), body);
  }

  @Get(':id')
  async get(@Param('id') id: string) {
    const payment = /^pay_[A-Za-z0-9_-]{24}$/.test(id) ? await this.payments.find(id) : undefined;
    if (!payment)
      throw new AppError(404, 'not_found_error', 'payment_not_found', `no payment ${id}`);
    return payment;
  }
}

@Module({ controllers: [PaymentsController], providers: [PaymentsService] })
export class PaymentsModule {}
