import { createHash } from 'node:crypto';
import type { QueueName } from '@lpi/access-matrix';
import type { ProviderClient, ProviderRequest } from '@lpi/auth';
import {
  MessagingError,
  PermanentJobError,
  RescheduleJobError,
  isRedisUnavailable,
  type JobData,
  type Producer,
} from '@lpi/messaging';
import { AppError, badRequest } from '@lpi/service-bootstrap';
import { toJobError } from './provider-outcome';
import type { RequestRecords } from './records';

/** What an Idempotency-Key may be: 1-255 printable ASCII characters. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

/** The Idempotency-Key every accepting endpoint requires; 400 in the envelope otherwise. */
export function requireIdempotencyKey(key: string | undefined, route: string): string {
  if (!key || !IDEMPOTENCY_KEY_PATTERN.test(key)) {
    throw badRequest('idempotency_key_required', `${route} needs an Idempotency-Key header`);
  }
  return key;
}

/** A business id derived from the client's Idempotency-Key: a retried request is the same one. */
export const businessIdFor = (prefix: 'pay' | 'ref', idempotencyKey: string): string =>
  `${prefix}_${createHash('sha256').update(idempotencyKey).digest('base64url').slice(0, 24)}`;

/**
 * Enqueues a client's request under the business id its Idempotency-Key names: a retried
 * request is the same job. The caller has stored the request first and compared the body's
 * fingerprint (the same key with another body is its 409, on every replica), so the job is
 * not read back (`payloadChecked`). `requestId` (the HTTP request's id) becomes the job's
 * correlation id, so the job's log lines name the request that started it.
 */
export async function enqueueRequest<Q extends QueueName>(
  producer: Producer<Q>,
  data: JobData<Q>,
  jobId: string,
  key = 'Idempotency-Key',
  requestId?: string,
): Promise<{ created?: boolean }> {
  try {
    return await producer.add(data, { jobId, correlationId: requestId, payloadChecked: true });
  } catch (err) {
    if (err instanceof MessagingError && err.code === 'JOB_ID_REUSED')
      throw new AppError(
        409,
        'conflict_error',
        'idempotency_key_reused',
        `this ${key} was already used with a different request body`,
      );
    // Redis unreachable (producers fail fast): nothing was accepted, and a retry is safe
    if (isRedisUnavailable(err))
      throw queueUnavailable(`the request could not be queued; retry it with the same ${key}`);
    // the HTTP edge validates first; these are its last line, never a 500
    if (err instanceof MessagingError && err.code === 'SECRET_IN_PAYLOAD')
      throw badRequest('sensitive_value_refused', err.message);
    if (err instanceof MessagingError && err.code === 'CONTRACT_VIOLATION')
      throw badRequest('invalid_parameters', err.message);
    throw err;
  }
}

const queueUnavailable = (message: string) =>
  new AppError(503, 'api_error', 'queue_unavailable', message, { 'Retry-After': '1' });

/**
 * A provider call from inside a job: any failure becomes the right job outcome
 * (see `toJobError`), so the handler only deals with success.
 */
export async function callProviderForJob<T>(
  provider: Pick<ProviderClient, 'request'>,
  req: ProviderRequest,
): Promise<T> {
  let res;
  try {
    res = await provider.request<T>(req);
  } catch (err) {
    throw toJobError(err);
  }
  if (res.status >= 400) throw toJobError(undefined, res.status);
  return res.data;
}

/**
 * Job starts that stay under the provider's per-client request limit: one per interval up to
 * 600 a minute (evenly spaced), above that as many per window of at least 100 ms as keep
 * `max / durationMs` at or under the limit. A window of one start spaced below ~100 ms made
 * BullMQ's workers wait out the window after almost every job (issue 22: 243 -> 334
 * payments/s with the limit far above the load, ADR 0036); a per-minute limit gains nothing from
 * smoothing finer than that.
 */
export const providerLimiter = (requestsPerMinute: number) => {
  const max = Math.ceil(requestsPerMinute / 600);
  return { max, durationMs: Math.ceil((60_000 * max) / requestsPerMinute) };
};

/**
 * Runs a request's job and settles its stored record: `succeeded` with the provider's id
 * before the job reports success (a failed write retries the job; the provider key makes
 * the retry free), `failed` when the job fails for good (a refusal, or the last attempt).
 */
export async function settleRequest(
  records: Pick<RequestRecords, 'settle'>,
  id: string,
  job: { attemptsMade: number; attempts: number },
  charge: () => Promise<string>,
): Promise<string> {
  let providerId: string;
  try {
    providerId = await charge();
  } catch (err) {
    const final =
      err instanceof PermanentJobError ||
      (!(err instanceof RescheduleJobError) && job.attemptsMade + 1 >= job.attempts);
    if (final)
      await records
        .settle(id, { state: 'failed', failureCode: String((err as Error).message).slice(0, 64) })
        .catch(() => undefined); // the job's own failed state still tells
    throw err;
  }
  await records.settle(id, { state: 'succeeded', providerId });
  return providerId;
}
