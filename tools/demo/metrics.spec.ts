// Scrapes every service's /metrics and the sandbox's after the demo scenario ran through the
// real processes, and checks the figures moved and no label value carries an id or a secret.
import {
  SERVICE_NAMES,
  grantOf,
  queuesOf,
  routesOf,
  type ServiceName,
} from '@lpi/access-matrix';
import { httpsCall } from '@lpi/testing';
import { ScenarioLog, scenario } from './scenario';
import { stackSecrets, startStack, type Stack } from './stack';

jest.setTimeout(180_000);

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, samples only (`# HELP`/`# TYPE` lines skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \d+)?$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line.slice(0, 80)}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g))
      labels[k] = v;
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of the samples of `name` whose labels include `want`. */
function total(samples: Sample[], name: string, want: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(want).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** `GET /metrics` of a service: Prometheus text, or the test fails here. */
async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  expect({ url, status: res.status }).toEqual({ url, status: 200 });
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** What an id, a token or a secret looks like; no label value may. */
const ID_OR_SECRET = [
  /(^|[^a-z])(pay|pp|pr|ref|evt|cor|req|whsec|we)_/i, // business, provider and request ids
  /eyJ/, // a JWT
  /hvs\.|s\.[A-Za-z0-9]{20}/, // a Vault token
  /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/i, // a UUID
  /^(?!\/)(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_+/=-]{20,}$/, // a random-looking string (not a path)
];

let stack: Stack;
const log = new ScenarioLog(() => undefined);
const texts = {} as Record<ServiceName | 'provider-sandbox', string>;
const scraped = {} as Record<ServiceName | 'provider-sandbox', Sample[]>;
const probedUnknownPath = '/payments-archive/pay_probe0000000000000000';

beforeAll(async () => {
  stack = await startStack();
  await scenario(stack, log);
  // a path no route matches, with an id in it: counted, never named
  expect((await fetch(`${stack.services['payment-service'].url}${probedUnknownPath}`)).status).toBe(
    404,
  );
  for (const service of SERVICE_NAMES)
    texts[service] = await scrape(`${stack.services[service].url}/metrics`);
  // the sandbox's API listener asks for a client certificate but serves /metrics without one
  const sandbox = await httpsCall(`${stack.sandbox.apiBaseUrl}/metrics`, {
    ca: stack.sandbox.caCert,
  });
  expect({ status: sandbox.status, type: sandbox.headers['content-type'] }).toEqual({
    status: 200,
    type: expect.stringMatching(/^text\/plain; version=0\.0\.4/),
  });
  texts['provider-sandbox'] = sandbox.text;
  for (const [name, text] of Object.entries(texts))
    scraped[name as keyof typeof texts] = parseExposition(text);
});
afterAll(async () => {
  await stack?.stop();
});

const everyScrape = () => Object.entries(scraped) as [string, Sample[]][];

describe('metrics after the scenario, scraped from every process', () => {
  it('ran the scenario', () => {
    expect(log.checks.filter((c) => !c.ok)).toEqual([]);
  });

  it('labels every series with its service and has the process figures', () => {
    for (const [service, samples] of everyScrape()) {
      expect({ service, unlabelled: samples.filter((s) => s.labels.service !== service) }).toEqual({
        service,
        unlabelled: [],
      });
      expect({ service, rss: total(samples, 'process_resident_memory_bytes') > 0 }).toEqual({
        service,
        rss: true,
      });
    }
  });

  it('counts the HTTP requests the scenario made, by route template', () => {
    const called: [ServiceName, string, string, string][] = [
      ['payment-service', '/payments', 'POST', '202'],
      ['payment-service', '/payments', 'POST', '409'],
      ['payment-service', '/payments/:id', 'GET', '200'],
      ['refund-service', '/refunds', 'POST', '202'],
      ['refund-service', '/refunds/:id', 'GET', '200'],
      ['reporting-service', '/reports/summary', 'GET', '200'],
      ['webhook-service', '/webhooks/provider', 'POST', '204'],
      ['webhook-service', '/webhooks/provider', 'POST', '401'],
    ];
    for (const [service, route, method, status] of called) {
      const n = total(scraped[service], 'lpi_http_requests_total', { route, method, status });
      expect({ service, route, method, status, counted: n > 0 }).toEqual({
        service,
        route,
        method,
        status,
        counted: true,
      });
      const timed = total(scraped[service], 'lpi_http_request_duration_seconds_count', {
        route,
        method,
      });
      expect({ service, route, timed: timed >= n }).toEqual({ service, route, timed: true });
    }
    expect(
      total(scraped['payment-service'], 'lpi_http_requests_total', {
        route: 'unmatched',
        status: '404',
      }),
    ).toBeGreaterThanOrEqual(1);
  });

  it('names routes only by the templates the access matrix declares', () => {
    for (const service of SERVICE_NAMES) {
      const declared = new Set([...routesOf(service).map((r) => r.path), 'unmatched']);
      const routes = new Set(
        scraped[service].filter((s) => s.labels.route !== undefined).map((s) => s.labels.route),
      );
      expect({ service, undeclared: [...routes].filter((r) => !declared.has(r)) }).toEqual({
        service,
        undeclared: [],
      });
    }
  });

  it("shows each service's token manager at work", () => {
    for (const service of SERVICE_NAMES) {
      const figures = {
        service,
        requests: total(scraped[service], 'lpi_token_requests_total', { client: 'provider' }) > 0,
        expiry: total(scraped[service], 'lpi_token_seconds_to_expiry', { client: 'provider' }) > 0,
        failures: total(scraped[service], 'lpi_token_failures_total'),
      };
      expect(figures).toEqual({ service, requests: true, expiry: true, failures: 0 });
    }
    // and the provider's answers to the calls made with them: three payments created
    expect(
      total(scraped['payment-service'], 'lpi_provider_responses_total', { status: '201' }),
    ).toBe(3);
    // payment-service paid three times and webhook-service registered its endpoint (a look-up,
    // then a create) on one token each: the later calls were served from the cache
    for (const service of ['payment-service', 'webhook-service'] as const)
      expect({
        service,
        hits: total(scraped[service], 'lpi_token_cache_hits_total', { client: 'provider' }) > 0,
      }).toEqual({ service, hits: true });
  });

  it('counts the jobs each consumer processed and reads queue depths at scrape time', () => {
    for (const service of SERVICE_NAMES) {
      for (const queue of grantOf(service).queues.consumes) {
        const figures = {
          service,
          queue,
          succeeded:
            total(scraped[service], 'lpi_jobs_processed_total', { queue, outcome: 'succeeded' }) >
            0,
          waited: total(scraped[service], 'lpi_job_wait_seconds_count', { queue }) > 0,
          timed: total(scraped[service], 'lpi_job_processing_seconds_count', { queue }) > 0,
          failed: total(scraped[service], 'lpi_jobs_processed_total', { queue, outcome: 'failed' }),
        };
        expect(figures).toEqual({
          service,
          queue,
          succeeded: true,
          waited: true,
          timed: true,
          failed: 0,
        });
      }
      for (const queue of queuesOf(service)) {
        const states = scraped[service]
          .filter((s) => s.name === 'lpi_queue_jobs' && s.labels.queue === queue)
          .map((s) => s.labels.state)
          .sort();
        expect({ service, queue, states }).toEqual({
          service,
          queue,
          states: ['active', 'completed', 'delayed', 'failed', 'waiting'],
        });
        expect(
          total(scraped[service], 'lpi_queue_jobs', { queue, state: 'completed' }),
        ).toBeGreaterThan(0);
      }
    }
  });

  it("shows each service's Vault session", () => {
    for (const service of SERVICE_NAMES)
      expect({
        service,
        ttl: total(scraped[service], 'lpi_vault_token_ttl_seconds') > 0,
        version: total(scraped[service], 'lpi_vault_secret_version') >= 1,
      }).toEqual({ service, ttl: true, version: true });
  });

  it("shows the provider's ledger: three payments and one refund", () => {
    const sandbox = scraped['provider-sandbox'];
    expect(total(sandbox, 'lpi_provider_ledger_entries', { kind: 'payment' })).toBe(3);
    expect(total(sandbox, 'lpi_provider_ledger_entries', { kind: 'refund' })).toBe(1);
    expect(total(sandbox, 'lpi_provider_ledger_amount', { kind: 'payment' })).toBeGreaterThan(0);
    expect(total(sandbox, 'lpi_provider_ledger_amount', { kind: 'refund' })).toBe(500);
  });

  it('carries no id, token or secret in any label value', async () => {
    for (const [service, samples] of everyScrape())
      for (const s of samples)
        for (const value of Object.values(s.labels)) {
          const shape = ID_OR_SECRET.find((p) => p.test(value));
          expect({ service, metric: s.name, value, shape: shape?.source }).toEqual({
            service,
            metric: s.name,
            value,
            shape: undefined,
          });
        }
    // nor anywhere in the scraped text: the secrets every service holds
    const secrets = await stackSecrets(stack);
    const everything = Object.values(texts).join('\n');
    for (const secret of secrets) expect(secret && everything.includes(secret)).toBe(false);
  });
});
