import { AuthError, RateLimitedError, type AuthErrorCode } from '@lpi/auth';
import { PermanentJobError, RescheduleJobError } from '@lpi/messaging';
import { callProviderForJob, providerLimiter } from './job-helpers';
import { toJobError } from './provider-outcome';

type Outcome = 'reschedule' | 'permanent' | 'retry';
const outcomeOf = (e: Error): Outcome =>
  e instanceof RescheduleJobError
    ? 'reschedule'
    : e instanceof PermanentJobError
      ? 'permanent'
      : 'retry';

describe('provider outcome -> job outcome', () => {
  it.each<[string, number, Outcome]>([
    ['400 bad request', 400, 'permanent'],
    ['402 card declined', 402, 'permanent'],
    ['404 unknown payment', 404, 'permanent'],
    ['409 duplicate still in flight', 409, 'retry'],
    ['422 refused refund', 422, 'permanent'],
    ['429 answered without a RateLimitedError', 429, 'retry'],
    ['500 provider error', 500, 'retry'],
    ['502 bad gateway', 502, 'retry'],
    ['503 unavailable', 503, 'retry'],
  ])('status %s -> %s', (_what, status, expected) => {
    expect(outcomeOf(toJobError(undefined, status))).toBe(expected);
  });

  it.each<[AuthErrorCode, Outcome]>([
    ['PROVIDER_FORBIDDEN', 'permanent'],
    ['INVALID_SCOPE', 'permanent'],
    ['INVALID_CLIENT', 'permanent'],
    ['TOKEN_ENDPOINT_UNAVAILABLE', 'retry'],
    ['TOKEN_RESPONSE_MALFORMED', 'retry'],
    ['PROVIDER_UNAUTHORIZED', 'retry'],
    ['PROVIDER_REQUEST_FAILED', 'retry'],
  ])('AuthError %s -> %s', (code, expected) => {
    const err = new AuthError(code, 'test');
    const out = toJobError(err);
    expect(outcomeOf(out)).toBe(expected);
    if (expected === 'retry') expect(out).toBe(err); // the cause is kept for the job's log
  });

  it('a 429 reschedules after the wait the provider asked for, without using an attempt', () => {
    const out = toJobError(new RateLimitedError(1500));
    expect(out).toBeInstanceOf(RescheduleJobError);
    expect((out as RescheduleJobError).delayMs).toBe(1500);
  });

  it('a network error retries with backoff, as itself', () => {
    const err = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(toJobError(err)).toBe(err);
  });

  describe('callProviderForJob', () => {
    const provider = (answer: () => Promise<{ status: number; data: unknown }>) => ({
      request: jest.fn(async () => ({ ...(await answer()), headers: {} })),
    });

    it('returns the data of a 2xx', async () => {
      const p = provider(async () => ({ status: 201, data: { id: 'pp_1' } }));
      await expect(callProviderForJob(p as never, { method: 'GET', path: '/x' })).resolves.toEqual({
        id: 'pp_1',
      });
    });

    it.each<[number, Outcome]>([
      [400, 'permanent'],
      [409, 'retry'],
      [500, 'retry'],
    ])('turns a %s answer into a %s job error', async (status, expected) => {
      const p = provider(async () => ({ status, data: {} }));
      const err = await callProviderForJob(p as never, { method: 'GET', path: '/x' }).catch(
        (e: Error) => e,
      );
      expect(outcomeOf(err as Error)).toBe(expected);
    });

    it('turns a thrown RateLimitedError into a reschedule', async () => {
      const p = provider(async () => {
        throw new RateLimitedError(2000);
      });
      const err = await callProviderForJob(p as never, { method: 'GET', path: '/x' }).catch(
        (e: Error) => e,
      );
      expect(err).toBeInstanceOf(RescheduleJobError);
    });
  });
});

describe('providerLimiter: job starts per window for a per-minute provider limit', () => {
  it.each([
    [50, { max: 1, durationMs: 1200 }],
    [300, { max: 1, durationMs: 200 }],
    [600, { max: 1, durationMs: 100 }],
    [601, { max: 2, durationMs: 200 }],
    [1199, { max: 2, durationMs: 101 }],
    [6000, { max: 10, durationMs: 100 }],
  ])('%i a minute -> %o', (perMinute, expected) => {
    expect(providerLimiter(perMinute)).toEqual(expected);
  });

  it('never allows more starts a minute than the limit, and never a window under 100 ms', () => {
    for (let perMinute = 1; perMinute <= 100_000; perMinute += perMinute < 2000 ? 1 : 997) {
      const { max, durationMs } = providerLimiter(perMinute);
      expect(Number.isInteger(max) && max >= 1).toBe(true);
      expect(durationMs).toBeGreaterThanOrEqual(perMinute > 600 ? 100 : 60_000 / perMinute);
      // full windows in a minute, each with max starts
      expect((60_000 / durationMs) * max).toBeLessThanOrEqual(perMinute);
      // and not needlessly slow (the window is rounded up to a whole millisecond)
      expect(((60_000 / durationMs) * max) / perMinute).toBeGreaterThan(0.98);
    }
  });
});
