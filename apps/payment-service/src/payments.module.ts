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
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ServiceRuntime, toJobError } from '@lpi/integration-runtime';
import { AppError, badRequest, parseInput } from '@lpi/service-bootstrap';

const paymentRequest = z.strictObject({
  amount: z.number().int('must be an integer in minor units').positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  description: z.string().max(200).optional(),
});

/** The business id is derived from the client's Idempotency-Key: a retried POST is the same payment. */
const paymentIdFor = (key: string) =>
  `pay_${createHash('sha256').update(key).digest('base64url').slice(0, 24)}`;

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
        let res;
        try {
          res = await this.runtime.provider.request<{ id: string; status: string }>({
            method: 'POST',
            path: '/v1/payments',
            body: { amount: p.amount, currency: p.currency, description: p.description },
            idempotencyKey: `charge:${p.payment_id}`,
          });
        } catch (err) {
          throw toJobError(err);
        }
        if (res.status >= 400) throw toJobError(undefined, res.status);
        this.states.set(p.payment_id, {
          payment_id: p.payment_id,
          status: 'succeeded',
          provider_payment_id: res.data.id,
        });
        await events.add(
          {
            payment_id: p.payment_id,
            provider_payment_id: res.data.id,
            status: 'succeeded',
            amount: p.amount,
            currency: p.currency,
          },
          { jobId: `evt-${p.payment_id}`, correlationId: envelope.correlationId },
        );
      },
      // stay under the provider's per-client limit: evenly spaced starts
      {
        concurrency: 4,
        limiter: {
          max: 1,
          durationMs: Math.ceil(60_000 / this.runtime.config.PROVIDER_RATE_LIMIT_PER_MINUTE),
        },
      },
    );
  }

  async request(idempotencyKey: string, body: unknown) {
    const input = parseInput(paymentRequest, body);
    const payment_id = paymentIdFor(idempotencyKey);
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
    if (!key || !/^[\x21-\x7e]{1,255}$/.test(key))
      throw badRequest(
        'idempotency_key_required',
        'POST /payments needs an Idempotency-Key header',
      );
    return this.payments.request(key, body);
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
