/** This service's name (one name everywhere). */
export const SERVICE_NAME = Symbol('SERVICE_NAME');
/** The service's validated settings (`RuntimeConfig`), read once at start-up. */
export const RUNTIME_CONFIG = Symbol('RUNTIME_CONFIG');
/** `ConsumeOptions` for a handler that calls the provider: concurrency and rate limit. */
export const PROVIDER_JOB_OPTIONS = Symbol('PROVIDER_JOB_OPTIONS');
