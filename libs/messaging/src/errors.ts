/** Typed messaging errors with stable codes. */
export class MessagingError extends Error {
  constructor(
    readonly code:
      | 'QUEUE_NOT_GRANTED'
      | 'HANDLER_MISSING'
      | 'HANDLER_DUPLICATE'
      | 'CONTRACT_VIOLATION'
      | 'SECRET_IN_PAYLOAD'
      | 'JOB_ID_REUSED',
    message: string,
  ) {
    super(message);
    this.name = 'MessagingError';
  }
}

/** Thrown by a handler: the job must not be retried (a 4xx from the provider, bad data). */
export class PermanentJobError extends Error {
  readonly code = 'JOB_PERMANENT_FAILURE';
  constructor(message: string) {
    super(message);
    this.name = 'PermanentJobError';
  }
}

/**
 * Thrown by a handler: the downstream asked us to slow down (HTTP 429). The whole queue
 * pauses for `delayMs` and the job goes back to wait without using up an attempt.
 */
export class RescheduleJobError extends Error {
  readonly code = 'JOB_RESCHEDULED';
  constructor(
    readonly delayMs: number,
    message = `rescheduled in ${delayMs} ms`,
  ) {
    super(message);
    this.name = 'RescheduleJobError';
  }
}

/**
 * Whether an error means Redis cannot be reached right now (producers fail fast rather than
 * queue commands offline), or is up but its script cache not yet reloaded after a restart
 * (NOSCRIPT: services may not load scripts themselves, ADR 0018): the caller may answer
 * "retry later" instead of "internal error".
 */
export function isRedisUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  return (
    err.name === 'MaxRetriesPerRequestError' ||
    err.name === 'ClusterAllFailedError' ||
    /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|^NOSCRIPT |^CLUSTERDOWN |Failed to refresh slots cache|Cluster isn't ready|^Too many Cluster redirections/.test(
      `${err.message} ${(err as { code?: string }).code ?? ''}`,
    )
  );
}
