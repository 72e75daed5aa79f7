import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { ProviderClient } from '@lpi/auth';
import {
  Consumers,
  PROVIDER_JOB_OPTIONS,
  callProviderForJob,
  producerToken,
  recordsToken,
  settleRequest,
  type RequestRecords,
} from '@lpi/integration-runtime';
import type { ConsumeOptions, Envelope, JobHandler, JobResult, Producer } from '@lpi/messaging';

type Refunder = Pick<ProviderClient, 'request'>;
type JobRun = Parameters<JobHandler<'refunds'>>[1];

/**
 * Refunds one requested refund, settles its stored record and announces the result; a
 * refused refund (provider 4xx) fails the job for good, so its status reads `failed`.
 */
export function refundPayment(
  provider: Refunder,
  events: Producer<'refund-events'>,
  records: Pick<RequestRecords, 'settle'>,
) {
  return async (envelope: Envelope<'refunds'>, job: JobRun): Promise<JobResult> => {
    const r = envelope.data;
    const refundId = await settleRequest(records, r.refund_id, job, async () => {
      const refund = await callProviderForJob<{ id: string }>(provider, {
        method: 'POST',
        path: '/v1/refunds',
        body: { payment: r.provider_payment_id, amount: r.amount, reason: r.reason },
        idempotencyKey: `refund:${r.refund_id}`,
      });
      return refund.id;
    });
    await events.add(
      {
        refund_id: r.refund_id,
        provider_refund_id: refundId,
        provider_payment_id: r.provider_payment_id,
        status: 'succeeded',
        amount: r.amount,
        currency: r.currency,
      },
      // not read back (`payloadChecked`): a run of this job can only add this payload again,
      // its own job data and the provider's id for the same idempotency key
      { jobId: `evt-${r.refund_id}`, correlationId: envelope.correlationId, payloadChecked: true },
    );
    return { provider_refund_id: refundId };
  };
}

@Injectable()
export class RefundProcessor implements OnModuleInit {
  constructor(
    @Inject(ProviderClient) private readonly provider: Refunder,
    @Inject(producerToken('refund-events')) private readonly events: Producer<'refund-events'>,
    @Inject(Consumers) private readonly consumers: Consumers,
    @Inject(PROVIDER_JOB_OPTIONS) private readonly jobOptions: ConsumeOptions,
    @Inject(recordsToken('refunds.requests')) private readonly records: RequestRecords,
  ) {}

  onModuleInit(): void {
    this.consumers.register(
      'refunds',
      refundPayment(this.provider, this.events, this.records),
      this.jobOptions,
    );
  }
}
