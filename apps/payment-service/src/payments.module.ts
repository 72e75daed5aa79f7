import { Module } from '@nestjs/common';
import { z } from 'zod';
import { requestEndpointModule } from '@lpi/integration-runtime';
import { PaymentProcessor } from './payment.processor';

const paymentRequest = z.strictObject({
  amount: z.number().int('must be an integer in minor units').positive().max(100_000_000),
  currency: z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code'),
  description: z.string().max(200).optional(),
});

/** POST /payments and GET /payments/:id; the charge itself runs in `PaymentProcessor`. */
export const payments = requestEndpointModule({
  path: 'payments',
  queue: 'payments',
  idPrefix: 'pay',
  idField: 'payment_id',
  resultField: 'provider_payment_id',
  notFoundCode: 'payment_not_found',
  body: paymentRequest,
  toJob: (payment_id, input) => ({ payment_id, ...input }),
});

@Module({ imports: [payments], providers: [PaymentProcessor] })
export class PaymentsModule {}
