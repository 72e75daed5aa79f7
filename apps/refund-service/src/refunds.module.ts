import { Module } from '@nestjs/common';
import { z } from 'zod';
import { requestEndpointModule } from '@lpi/integration-runtime';
import { RefundProcessor } from './refund.processor';

const refundRequest = z.strictObject({
  provider_payment_id: z
    .string()
    .regex(/^pp_[A-Za-z0-9_-]{1,64}$/, 'must be a provider payment id'),
  amount: z.number().int('must be an integer in minor units').positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  reason: z.string().max(200).optional(),
});

/** POST /refunds and GET /refunds/:id; the refund itself runs in `RefundProcessor`. */
export const refunds = requestEndpointModule({
  path: 'refunds',
  queue: 'refunds',
  idPrefix: 'ref',
  idField: 'refund_id',
  resultField: 'provider_refund_id',
  notFoundCode: 'refund_not_found',
  body: refundRequest,
  toJob: (refund_id, input) => ({ refund_id, ...input }),
});

@Module({ imports: [refunds], providers: [RefundProcessor] })
export class RefundsModule {}
