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
import { PermanentJobError } from '@lpi/messaging';
import { AppError, parseInput } from '@lpi/service-bootstrap';

const refundRequest = z.strictObject({
  provider_payment_id: z
    .string()
    .regex(/^pp_[A-Za-z0-9_-]{1,64}$/, 'must be a provider payment id'),
  amount: z.number().int('must be an integer in minor units').positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  reason: z.string().max(200).optional(),
});

interface RefundState {
  refund_id: string;
  status: 'queued' | 'succeeded' | 'failed';
  provider_refund_id?: string;
}

@Injectable()
class RefundsService implements OnModuleInit {
  readonly states = new Map<string, RefundState>();
  constructor(private readonly runtime: ServiceRuntime) {}

  onModuleInit(): void {
    const events = this.runtime.messaging.producer('refund-events');
    this.runtime.messaging.consume(
      'refunds',
      async (envelope) => {
        const r = envelope.data;
        const refund = await callProviderForJob<{ id: string }>(this.runtime.provider, {
          method: 'POST',
          path: '/v1/refunds',
          body: { payment: r.provider_payment_id, amount: r.amount, reason: r.reason },
          idempotencyKey: `refund:${r.refund_id}`,
        }).catch((err: unknown) => {
          if (err instanceof PermanentJobError)
            this.states.set(r.refund_id, { refund_id: r.refund_id, status: 'failed' });
          throw err;
        });
        this.states.set(r.refund_id, {
          refund_id: r.refund_id,
          status: 'succeeded',
          provider_refund_id: refund.id,
        });
        await events.add(
          {
            refund_id: r.refund_id,
            provider_refund_id: refund.id,
            provider_payment_id: r.provider_payment_id,
            status: 'succeeded',
            amount: r.amount,
            currency: r.currency,
          },
          { jobId: `evt-${r.refund_id}`, correlationId: envelope.correlationId },
        );
      },
      {
        concurrency: this.runtime.config.QUEUE_CONCURRENCY,
        limiter: providerLimiter(this.runtime.config.PROVIDER_RATE_LIMIT_PER_MINUTE),
      },
    );
  }

  async request(idempotencyKey: string, body: unknown) {
    const input = parseInput(refundRequest, body);
    const refund_id = businessIdFor('ref', idempotencyKey);
    if (!this.states.has(refund_id)) this.states.set(refund_id, { refund_id, status: 'queued' });
    await this.runtime.messaging
      .producer('refunds')
      .add({ refund_id, ...input }, { jobId: refund_id });
    return this.states.get(refund_id)!;
  }
}

@Controller('refunds')
class RefundsController {
  constructor(private readonly refunds: RefundsService) {}

  @Post()
  @HttpCode(202)
  create(@Headers('idempotency-key') key: string | undefined, @Body() body: unknown) {
    return this.refunds.request(requireIdempotencyKey(key, 'POST /refunds'), body);
  }

  @Get(':id')
  get(@Param('id') id: string) {
    const state = this.refunds.states.get(id);
    if (!state) throw new AppError(404, 'not_found_error', 'refund_not_found', `no refund ${id}`);
    return state;
  }
}

@Module({ controllers: [RefundsController], providers: [RefundsService] })
export class RefundsModule {}
