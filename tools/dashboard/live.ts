// The live half: each service's /metrics and the provider sandbox's, read at every poll,
// boiled down to the numbers the page shows. Label values carry names only (the metric
// contract), and only the metrics named here are passed on.
import { readFileSync } from 'node:fs';
import {
  QUEUE_NAMES,
  SERVICE_NAMES,
  consumersOf,
  producersOf,
  type ServiceName,
} from '@lpi/access-matrix';
import { httpsCall } from '@lpi/testing';
import { parsePrometheus, select, valueOf, type Sample } from './prometheus';
import type { StackEndpoints } from './stack-file';

export const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed'] as const;
export const OUTCOMES = ['succeeded', 'retry', 'failed'] as const;

export interface ServiceLive {
  up: boolean;
  secretVersion: number | null;
  /** `never`: a token with no expiry (a root-like token; Prometheus writes +Inf). */
  vaultTokenTtlSeconds: number | 'never' | null;
  tokenSecondsToExpiry: number | null;
  tokenRequests: number | null;
  httpRequests: number | null;
}

export interface QueueLive {
  queue: string;
  producers: string[];
  consumers: string[];
  depth: Record<(typeof QUEUE_STATES)[number], number | null>;
  processed: Record<(typeof OUTCOMES)[number], number>;
}

export interface LedgerLine {
  kind: string;
  currency: string;
  amount: number;
  entries: number;
}

export interface Scrape {
  services: Record<ServiceName, Sample[] | null>;
  provider: Sample[] | null;
}

const SCRAPE_TIMEOUT_MS = 1500;

async function scrapeHttp(url: string): Promise<Sample[] | null> {
  try {
    const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(SCRAPE_TIMEOUT_MS) });
    return res.ok ? parsePrometheus(await res.text()) : null;
  } catch {
    return null;
  }
}

async function scrapeProvider(p: StackEndpoints['provider']): Promise<Sample[] | null> {
  try {
    const res = await httpsCall(`${p.apiBaseUrl}/metrics`, { ca: readFileSync(p.caFile, 'utf8') });
    return res.status === 200 ? parsePrometheus(res.text) : null;
  } catch {
    return null;
  }
}

export async function scrape(endpoints: StackEndpoints): Promise<Scrape> {
  const [provider, ...services] = await Promise.all([
    scrapeProvider(endpoints.provider),
    ...SERVICE_NAMES.map((s) => scrapeHttp(endpoints.services[s])),
  ]);
  return {
    provider,
    services: Object.fromEntries(
      SERVICE_NAMES.map((s, i) => [s, services[i]]),
    ) as Scrape['services'],
  };
}

const sum = (samples: readonly Sample[]) =>
  samples.length ? samples.reduce((n, s) => n + s.value, 0) : null;

const finiteOrNever = (v: number | null) => (v === Infinity ? 'never' : v);

export function serviceLive(service: ServiceName, m: Sample[] | null): ServiceLive {
  if (!m)
    return {
      up: false,
      secretVersion: null,
      vaultTokenTtlSeconds: null,
      tokenSecondsToExpiry: null,
      tokenRequests: null,
      httpRequests: null,
    };
  const expiry = select(m, 'lpi_token_seconds_to_expiry', { client: service });
  return {
    up: true,
    secretVersion: valueOf(m, 'lpi_vault_secret_version'),
    vaultTokenTtlSeconds: finiteOrNever(valueOf(m, 'lpi_vault_token_ttl_seconds')),
    tokenSecondsToExpiry: (expiry[0] ?? select(m, 'lpi_token_seconds_to_expiry')[0])?.value ?? null,
    tokenRequests: sum(select(m, 'lpi_token_requests_total')),
    httpRequests: sum(select(m, 'lpi_http_requests_total')),
  };
}

/**
 * Each queue's depth is the same Redis figure whichever service reports it (the largest
 * wins, in case one scrape is a moment older); jobs processed are counted by consumers only,
 * so they add up.
 */
export function queuesLive(s: Scrape): QueueLive[] {
  const all = SERVICE_NAMES.flatMap((svc) => s.services[svc] ?? []);
  return QUEUE_NAMES.map((queue) => {
    const depth = Object.fromEntries(
      QUEUE_STATES.map((state) => {
        const found = select(all, 'lpi_queue_jobs', { queue, state });
        return [state, found.length ? Math.max(...found.map((f) => f.value)) : null];
      }),
    ) as QueueLive['depth'];
    const processed = Object.fromEntries(
      OUTCOMES.map((outcome) => [
        outcome,
        sum(select(all, 'lpi_jobs_processed_total', { queue, outcome })) ?? 0,
      ]),
    ) as QueueLive['processed'];
    return {
      queue,
      producers: producersOf(queue),
      consumers: consumersOf(queue),
      depth,
      processed,
    };
  });
}

export function ledgerLive(provider: Sample[] | null): LedgerLine[] | null {
  if (!provider) return null;
  return select(provider, 'lpi_provider_ledger_amount').map((a) => ({
    kind: a.labels.kind,
    currency: a.labels.currency,
    amount: a.value,
    entries: valueOf(provider, 'lpi_provider_ledger_entries', a.labels) ?? 0,
  }));
}
