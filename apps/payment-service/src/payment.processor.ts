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
import { tagActiveSpan } from '@lpi/service-bootstrap';

type PaymentCharger = Pick<ProviderClient, 'request'>;
type JobRun = Parameters<JobHandler<'payments'>>[1];

/**
 * Charges one requested payment, settles its stored record and announces the result. The
 * provider key is derived from the business id, so a job that runs again (retry, crash,
 * shutdown cut-off) never charges twice; a provider failure becomes the right job outcome
 * (`callProviderForJob`) and, once final, the record's `failed`.
 */
export function chargePayment(
  provider: PaymentCharger,
  events: Producer<'payment-events'>,
  records: Pick<RequestRecords, 'settle'>,
) {
  return async (envelope: Envelope<'payments'>, job: JobRun): Promise<JobResult> => {
    const p = envelope.data;
    const chargeId = await settleRequest(records, p.payment_id, job, async () => {
      const charge = await callProviderForJob<{ id: string }>(provider, {
        method: 'POST',
        path: '/v1/payments',
        body: { amount: p.amount, currency: p.currency, description: p.description },
        idempotencyKey: `charge:${p.payment_id}`,
      });
      return charge.id;
    });
    // the provider's webhook about this payment carries the same id (its own trace, ADR 0023)
    tagActiveSpan({ 'provider.object_id': chargeId });
    await events.add(
      {
        payment_id: p.payment_id,
        provider_payment_id: chargeId,
        status: 'succeeded',
        amount: p.amount,
        currency: p.currency,
      },
      // not read back (`payloadChecked`): a run of this job can only add this payload again,
      // its own job data and the provider's id for the same idempotency key
      { jobId: `evt-${p.payment_id}`, correlationId: envelope.correlationId, payloadChecked: true },
    );
    return { provider_payment_id: chargeId };
  };
}

@Injectable()
export class PaymentProcessor implements OnModuleInit {
  constructor(
    @Inject(ProviderClient) private readonly provider: PaymentCharger,
    @Inject(producerToken('payment-events')) private readonly events: Producer<'payment-events'>,
    @Inject(Consumers) private readonly consumers: Consumers,
    @Inject(PROVIDER_JOB_OPTIONS) private readonly jobOptions: ConsumeOptions,
    @Inject(recordsToken('payments.requests')) private readonly records: RequestRecords,
  ) {}

  onModuleInit(): void {
    this.consumers.register(
      'payments',
      chargePayment(this.provider, this.events, this.records),
      this.jobOptions,
    );
  }
}
