import { Module } from '@nestjs/common';
import { PAYMENTS, requestEndpointModule } from '@lpi/integration-runtime';
import { PaymentProcessor } from './payment.processor';

/**
 * POST /payments and GET /payments/:id; the charge itself runs in `PaymentProcessor`. The
 * request and response schemas are the HTTP contract (`PAYMENTS`), which the served API
 * description is generated from.
 */
export const payments = requestEndpointModule(PAYMENTS);

@Module({ imports: [payments], providers: [PaymentProcessor] })
export class PaymentsModule {}
