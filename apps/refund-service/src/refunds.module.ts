import { Module } from '@nestjs/common';
import { REFUNDS, requestEndpointModule } from '@lpi/integration-runtime';
import { RefundProcessor } from './refund.processor';

/**
 * POST /refunds and GET /refunds/:id; the refund itself runs in `RefundProcessor`. The
 * request and response schemas are the HTTP contract (`REFUNDS`).
 */
export const refunds = requestEndpointModule(REFUNDS);

@Module({ imports: [refunds], providers: [RefundProcessor] })
export class RefundsModule {}
