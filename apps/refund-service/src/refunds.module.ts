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

const refundRequest = z.strictObject({
  provider_payment_id: z
    .string()
    .regex(/^pp_[A-Za-z0-9_-]{1,64}$/, 'must be a provider payment id'),
  amount: z.number().int('must be an integer in minor units').positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  reason: z.string().max(200).optional(),
});

@Injectable()
class RefundsService implements OnModuleInit {
  constructor(private readonly runtime: ServiceRuntime) {}

  onModuleInit(): void {
    const events = this.runtime.messaging.producer('refund-events');
    this.runtime.messaging.consume(
      'refunds',
      async (envelope) => {
        const r = envelope.data;
        // a refused refund (provider 4xx) fails the job for good: its status reads `failed`
        const refund = await callProviderForJob<{ id: string }>(this.runtime.provider, {
          method: 'POST',
          path: '/v1/refunds',
          body: { payment: r.provider_payment_id, amount: r.amount, reason: r.reason },
          idempotencyKey: `refund:${r.refund_id}`,
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
        return { provider_refund_id: refund.id };
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
    const { created } = await enqueueRequest(
      this.runtime.messaging.producer('refunds'),
      { refund_id, ...input },
      refund_id,
    );
    // a retried request reports where the first one stands now
    return (created ? undefined : await this.find(refund_id)) ?? { refund_id, status: 'queued' };
  }

  /** The refund's status from its job in Redis: the same answer on every replica. */
  async find(refund_id: string) {
    const s = await requestStatus(this.runtime.messaging, 'refunds', refund_id);
    if (!s) return undefined;
    return { refund_id, status: s.state, provider_refund_id: s.result?.provider_refund_id };
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
  async get(@Param('id') id: string) {
    const refund = /^ref_[A-Za-z0-9_-]{24}$/.test(id) ? await this.refunds.find(id) : undefined;
    if (!refund) throw new AppError(404, 'not_found_error', 'refund_not_found', `no refund ${id}`);
    return refund;
  }
}

@Module({ controllers: [RefundsController], providers: [RefundsService] })
export class RefundsModule {}
