// The API descriptions against the real stack: every answer the services give during the
// scenario, the compromised-service play and a set of refusals (400, 401, 403, 404, 409,
// 413, 415, 503 with PostgreSQL down) is checked against the document the service itself serves.
import { Webhook } from 'standardwebhooks';
import { SERVICE_NAMES, secretDataPathOf, type ServiceName } from '@lpi/access-matrix';
import { openApiDocument } from '@lpi/integration-runtime';
import {
  OpenApiConformance,
  validateOpenApi31,
  type ObservedResponse,
} from './openapi-conformance';
import { ScenarioLog, compromisedReporting, scenario } from './scenario';
import { startStack, type Stack } from './stack';

jest.setTimeout(240_000);

type Observed = ObservedResponse & { service: ServiceName };

let stack: Stack;
const observed: Observed[] = [];
const served = {} as Record<ServiceName, { [key: string]: unknown }>;
const realFetch = globalThis.fetch;

/** Records every answer a service gives to anyone in this process (callers, scenario, us). */
function recordServiceAnswers(): void {
  globalThis.fetch = async (input, init) => {
    const res = await realFetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input));
    const service = SERVICE_NAMES.find((s) => new URL(stack.services[s].url).host === url.host);
    if (service)
      observed.push({
        service,
        method: (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase(),
        path: `${url.pathname}${url.search}`,
        status: res.status,
        headers: res.headers,
        text: await res.clone().text(),
      });
    return res;
  };
}

const send = (service: ServiceName, path: string, init: RequestInit = {}) =>
  fetch(`${stack.services[service].url}${path}`, init);

async function signedWebhook(id: string, event: unknown): Promise<Response> {
  const kv = (await (
    await realFetch(`${stack.vault.addr}/v1/${secretDataPathOf('webhook-service')}`, {
      headers: { 'x-vault-token': stack.vault.rootToken },
    })
  ).json()) as { data: { data: { webhook_secret: string } } };
  const body = JSON.stringify(event);
  const at = new Date();
  return send('webhook-service', '/webhooks/provider', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(kv.data.data.webhook_secret).sign(id, at, body),
    },
    body,
  });
}

/** Refusals the scenario does not make, each by the caller or sender the route expects. */
async function refusals(): Promise<void> {
  const { checkout, 'support-console': support } = stack.callers;
  const payment = { amount: 1000, currency: 'EUR' };
  await checkout.post('payment-service', '/payments', 'openapi-1', { ...payment, tip: 1 }); // 400
  await checkout.fetch('payment-service', '/payments', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(payment),
  }); // 400: no Idempotency-Key
  await checkout.fetch('payment-service', '/payments', {
    method: 'POST',
    headers: { 'content-type': 'text/plain', 'idempotency-key': 'openapi-2' },
    body: 'pay me',
  }); // 415
  await checkout.post('payment-service', '/payments', 'openapi-3', {
    ...payment,
    description: 'x'.repeat(70_000),
  }); // 413
  await send('payment-service', '/payments/pay_AAAAAAAAAAAAAAAAAAAAAAAA', {
    headers: { authorization: 'Bearer not.a.token' },
  }); // 401 invalid_token
  await checkout.fetch('payment-service', '/payments/pay_AAAAAAAAAAAAAAAAAAAAAAAA'); // 404
  await checkout.fetch('payment-service', '/payments/%E0%A4%A'); // 400 malformed path
  await support.post('payment-service', '/payments', 'openapi-4', payment); // 403
  await support.fetch('refund-service', '/refunds/ref_AAAAAAAAAAAAAAAAAAAAAAAA'); // 404
  await support.post('refund-service', '/refunds', 'openapi-5', { ...payment }); // 400
  await send('reporting-service', '/reports/summary'); // 401 missing_token
  await signedWebhook('msg_openapi_1', { type: 'payment.succeeded', data: { id: 'pp_openapi' } }); // 204
  await send('webhook-service', '/webhooks/provider', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  }); // 400 webhook_unsigned
  for (const service of SERVICE_NAMES)
    for (const path of ['/health/live', '/health/ready', '/openapi.json'])
      await send(service, path);
}

/** PostgreSQL down: the record-backed routes answer 503 with Retry-After; then it comes back. */
async function whileDatabaseIsDown(): Promise<void> {
  const { checkout, 'support-console': support } = stack.callers;
  await stack.postgres.kill();
  try {
    await checkout.post('payment-service', '/payments', 'openapi-db-down', {
      amount: 1000,
      currency: 'EUR',
    });
    await checkout.fetch('payment-service', '/payments/pay_AAAAAAAAAAAAAAAAAAAAAAAA');
    await support.fetch('refund-service', '/refunds/ref_AAAAAAAAAAAAAAAAAAAAAAAA');
    await signedWebhook('msg_openapi_2', { type: 'payment.succeeded', data: { id: 'pp_x' } });
  } finally {
    await stack.postgres.restart();
  }
}

beforeAll(async () => {
  stack = await startStack();
  recordServiceAnswers();
  const log = new ScenarioLog(() => undefined);
  await scenario(stack, log);
  await compromisedReporting(stack, log);
  expect(log.checks.filter((c) => !c.ok)).toEqual([]);
  await refusals();
  await whileDatabaseIsDown();
  for (const service of SERVICE_NAMES)
    served[service] = (await (
      await realFetch(`${stack.services[service].url}/openapi.json`)
    ).json()) as {
      [key: string]: unknown;
    };
});
afterAll(async () => {
  globalThis.fetch = realFetch;
  await stack?.stop();
});

describe('the API descriptions, against the running services', () => {
  it('each service serves the generated document at /openapi.json, valid OpenAPI 3.1', async () => {
    for (const service of SERVICE_NAMES) {
      expect({ service, doc: served[service] }).toEqual({ service, doc: openApiDocument(service) });
      const res = await validateOpenApi31(served[service]);
      expect({ service, ...res }).toEqual({ service, valid: true, version: '3.1', errors: [] });
    }
  });

  it('every answer of the scenario and of the refusals is one the served document describes', () => {
    const checkers = Object.fromEntries(
      SERVICE_NAMES.map((s) => [s, new OpenApiConformance(served[s])]),
    ) as Record<ServiceName, OpenApiConformance>;
    const problems = observed.flatMap((r) =>
      checkers[r.service].problems(r).map((p) => `${r.service}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('saw every documented kind of answer, so the check above is not empty', () => {
    const seen = (service: ServiceName) =>
      new Set(observed.filter((r) => r.service === service).map((r) => r.status));
    expect([...seen('payment-service')].sort()).toEqual(
      expect.arrayContaining([200, 202, 400, 401, 403, 404, 409, 413, 415, 503]),
    );
    expect([...seen('refund-service')]).toEqual(expect.arrayContaining([200, 202, 400, 404, 503]));
    expect([...seen('reporting-service')]).toEqual(expect.arrayContaining([200, 401]));
    expect([...seen('webhook-service')]).toEqual(expect.arrayContaining([204, 400, 401, 503]));
    expect(observed.length).toBeGreaterThan(40);
  });
});
