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
  providerLimiter,
  requireIdempotencyKey,
} from '@lpi/integration-runtime';
import { AppError, parseInput } from '@lpi/service-bootstrap';

const paymentRequest = z.strictObject({
  amount: z.number().int('must be an integer in minor units').positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  description: z.string().max(200).optional(),
});

interface PaymentState {
  payment_id: string;
  status: 'queued' | 'succeeded' | 'failed';
  provider_payment_id?: string;
}

@Injectable()
class PaymentsService implements OnModuleInit {
  readonly states = new Map<string, PaymentState>();
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
        this.states.set(p.payment_id, {
          payment_id: p.payment_id,
          status: 'succeeded',
          provider_payment_id: charge.id,
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
    if (!this.states.has(payment_id)) this.states.set(payment_id, { payment_id, status: 'queued' });
    await this.runtime.messaging
      .producer('payments')
      .add({ payment_id, ...input }, { jobId: payment_id });
    return this.states.get(payment_id)!;
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
  get(@Param('id') id: string) {
    const state = this.payments.states.get(id);
    if (!state) throw new AppError(404, 'not_found_error', 'payment_not_found', `no payment ${id}`);
    return state;
  }
}

@Module({ controllers: [PaymentsController], providers: [PaymentsService] })
export class PaymentsModule {}
