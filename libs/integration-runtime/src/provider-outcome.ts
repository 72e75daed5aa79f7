import { AuthError, RateLimitedError } from '@lpi/auth';
import { PermanentJobError, RescheduleJobError } from '@lpi/messaging';

/**
 * Provider call outcome -> job outcome: 429 reschedules without using an attempt; 401 was
 * already retried once by the provider client; other 4xx (but 409, a duplicate still in
 * flight) are permanent; 5xx and network errors retry with backoff.
 */
export function toJobError(err: unknown, status?: number): Error {
  if (err instanceof RateLimitedError) return new RescheduleJobError(err.retryAfterMs);
  if (
    err instanceof AuthError &&
    (err.code === 'PROVIDER_FORBIDDEN' ||
      err.code === 'INVALID_SCOPE' ||
      err.code === 'INVALID_CLIENT')
  ) {
    return new PermanentJobError(`${err.code}`);
  }
  if (status !== undefined && status >= 400 && status < 500 && status !== 409 && status !== 429) {
    return new PermanentJobError(`provider answered ${status}`);
  }
  return err instanceof Error ? err : new Error(`provider answered ${status}`);
}
