import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ServiceName } from '@lpi/access-matrix';
import { loadConfig, setting } from '@lpi/service-bootstrap';

const runtimeSettings = {
  PORT: setting.port(),
  HOST: z.string().default('127.0.0.1'),
  LOG_LEVEL: setting.logLevel(),
  REDIS_HOST: z.string().default('127.0.0.1'),
  REDIS_PORT: setting.port(6379),
  /**
   * Seed nodes of a Redis Cluster (`host:port,host:port`); set, the queues run on the cluster
   * and REDIS_HOST/REDIS_PORT are not used (ADR 0028).
   */
  REDIS_CLUSTER_NODES: setting.hostPortList().optional(),
  PROVIDER_ISSUER: setting.url(),
  PROVIDER_API_URL: setting.url(),
  /**
   * The resource the provider tokens are for (RFC 8707), the `aud` the provider's API
   * checks; unset, the authorization server's default resource.
   */
  PROVIDER_AUDIENCE: setting.url().optional(),
  PROVIDER_CA_FILE: setting.file(),
  PROVIDER_RATE_LIMIT_PER_MINUTE: setting.positiveInt(50),
  WEBHOOK_PUBLIC_URL: z.string().optional(),
  /** BullMQ job lock; a crashed worker's job runs again after about 1.5x this. */
  QUEUE_LOCK_MS: setting.positiveInt(30_000),
  /** Jobs a worker runs at once (provider calls in flight); the rate limit still applies. */
  QUEUE_CONCURRENCY: setting.positiveInt(8),
  /**
   * Retries of a failing job: exponential from JOB_BACKOFF_MS, capped at
   * JOB_BACKOFF_CAP_MS, for JOB_RETRY_FOR_MS. An outage shorter than that delays work
   * and loses none; provider 4xx still fail at once.
   */
  JOB_BACKOFF_MS: setting.positiveInt(1000),
  JOB_BACKOFF_CAP_MS: setting.positiveInt(60_000),
  JOB_RETRY_FOR_MS: setting.positiveInt(12 * 3600_000),
  /**
   * On SIGTERM, how long in-flight jobs get to finish before the workers are closed
   * anyway (a job cut off runs again elsewhere, under the same provider key). Keep it
   * below the orchestrator's grace period (Kubernetes: terminationGracePeriodSeconds).
   */
  SHUTDOWN_GRACE_MS: setting.positiveInt(20_000),
  /**
   * `fixed` is the benchmark baseline only: the first token is sent as a fixed header and
   * never refreshed before it fails. Refused when NODE_ENV=production.
   */
  PROVIDER_TOKEN_MODE: z.enum(['managed', 'fixed']).default('managed'),
  NODE_ENV: z.string().optional(),
};

/** The variables readRuntimeConfig reads. */
export const RUNTIME_SETTING_NAMES: readonly string[] = Object.keys(runtimeSettings);

/** Non-secret settings every integration service takes from its environment. */
export function readRuntimeConfig(
  service: ServiceName,
  env: Record<string, string | undefined> = process.env,
) {
  const c = loadConfig(service, runtimeSettings, env);
  if (c.PROVIDER_TOKEN_MODE === 'fixed' && c.NODE_ENV === 'production') {
    throw new Error(
      `${service}: PROVIDER_TOKEN_MODE=fixed is a benchmark baseline and is refused with NODE_ENV=production`,
    );
  }
  // a job retried after the provider forgot its idempotency key (24 h at Stripe and in the
  // sandbox) would charge a second time: the retry window must end well before that
  if (c.JOB_RETRY_FOR_MS > 20 * 3600_000) {
    throw new Error(
      `${service}: JOB_RETRY_FOR_MS must be at most 72000000 (20 h): the provider keeps idempotency keys for 24 h, and a retry after that could charge twice`,
    );
  }
  let providerCa: string;
  try {
    providerCa = readFileSync(c.PROVIDER_CA_FILE, 'utf8');
  } catch {
    throw new Error(`${service}: PROVIDER_CA_FILE points at a file that cannot be read`);
  }
  return { ...c, providerCa };
}
export type RuntimeConfig = ReturnType<typeof readRuntimeConfig>;
