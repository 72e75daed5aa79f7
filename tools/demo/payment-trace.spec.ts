// One payment is one trace across the real processes (issue 19, ADR 0023): the whole stack
// exports to an OTLP/HTTP (JSON) receiver this test runs in-process, one payment goes through
// the checkout caller, and the spans that arrive must form one tree from the HTTP request to
// reporting-service's event job. The provider's webhook about it is its own trace, found by
// the provider's payment id. The job log lines carry the HTTP request id.
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from '@lpi/testing';
import { startStack, type Stack } from './stack';

jest.setTimeout(240_000);

interface OtlpValue {
  stringValue?: string;
  intValue?: string | number;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: { key: string; value: OtlpValue }[];
}
interface OtlpExport {
  resourceSpans: {
    resource: { attributes: { key: string; value: OtlpValue }[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}
interface Span extends OtlpSpan {
  service: string;
  attr: Record<string, string>;
}

const KIND = { server: 2, client: 3, producer: 4, consumer: 5 };

const attributesOf = (list: { key: string; value: OtlpValue }[] = []) =>
  Object.fromEntries(list.map((a) => [a.key, String(a.value.stringValue ?? a.value.intValue)]));

/** An OTLP/HTTP receiver (JSON protocol): keeps every span, and the raw bodies. */
function otlpReceiver() {
  const spans: Span[] = [];
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const json = req.url === '/v1/traces' && /json/.test(req.headers['content-type'] ?? '');
      if (!json) {
        res.writeHead(415).end();
        return;
      }
      bodies.push(body);
      for (const rs of (JSON.parse(body) as OtlpExport).resourceSpans) {
        const service = attributesOf(rs.resource.attributes)['service.name'];
        for (const ss of rs.scopeSpans)
          for (const s of ss.spans) spans.push({ ...s, service, attr: attributesOf(s.attributes) });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return { server, spans, bodies };
}

const receiver = otlpReceiver();
let stack: Stack;

beforeAll(async () => {
  await new Promise<void>((r) => receiver.server.listen(0, '127.0.0.1', r));
  const { port } = receiver.server.address() as AddressInfo;
  stack = await startStack({
    serviceEnv: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_BSP_SCHEDULE_DELAY: '200',
    },
  });
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => (receiver.server as Server).close(r));
});

/** The one span of a service matching a name (and a test), waiting for its export. */
const spanOf = (service: string, name: string, test: (s: Span) => boolean = () => true) =>
  waitFor(
    `${service}'s "${name}" span`,
    async () => receiver.spans.find((s) => s.service === service && s.name === name && test(s)),
    { timeoutMs: 30_000 },
  );

const logLines = (service: string) =>
  readFileSync(
    stack.logFiles.find((f) => f.endsWith(`/${service}.log`))!,
    'utf8',
  )
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('one payment, one trace', () => {
  let requestId: string;
  let paymentId: string;

  beforeAll(async () => {
    const { checkout, 'finance-dashboard': finance } = stack.callers;
    // the service fetched its first token at start-up; the provider now refuses it, so the
    // payment's job gets a 401, fetches a new token and retries: both inside the job's span
    await stack.sandbox.admin.setFault({ revoke_tokens_issued_before: 'now' });
    const res = await checkout.post('payment-service', '/payments', 'trace-order-1', {
      amount: 4200,
      currency: 'EUR',
      description: 'traced order',
    });
    expect(res.status).toBe(202);
    requestId = res.headers.get('x-request-id')!;
    paymentId = ((await res.json()) as { payment_id: string }).payment_id;
    await waitFor('the payment event to reach reporting-service', async () => {
      const sum = (await (await finance.fetch('reporting-service', '/reports/summary')).json()) as {
        payments: { count: number };
      };
      return sum.payments.count === 1 ? true : undefined;
    });
  });

  it('is one tree from POST /payments through the job, the token, the provider and the event job', async () => {
    const http = await spanOf('payment-service', 'POST /payments');
    const trace = http.traceId;
    const inTrace = (s: Span) => s.traceId === trace;
    const enqueued = await spanOf('payment-service', 'payments publish', inTrace);
    const job = await spanOf('payment-service', 'payments process', inTrace);
    const token = await spanOf('payment-service', 'oauth token fetch', inTrace);
    const charge = await spanOf(
      'payment-service',
      'provider POST',
      (s) => inTrace(s) && s.attr['http.response.status_code'] === '201',
    );
    const refused = await spanOf(
      'payment-service',
      'provider POST',
      (s) => inTrace(s) && s.attr['http.response.status_code'] === '401',
    );
    expect(refused.parentSpanId).toBe(job.spanId);
    // the start-up fetch is a trace of its own, not part of any request's
    const warmUp = await spanOf('payment-service', 'oauth token fetch', (s) => !inTrace(s));
    expect(warmUp.parentSpanId ?? '').toBe('');
    const announced = await spanOf('payment-service', 'payment-events publish', inTrace);
    const reported = await spanOf('reporting-service', 'payment-events process', inTrace);

    const tree = [http, enqueued, job, token, charge, announced, reported].map((s) => ({
      service: s.service,
      name: s.name,
      kind: s.kind,
      parent: receiver.spans.find((p) => p.spanId === s.parentSpanId)?.name ?? null,
    }));
    expect(tree).toEqual([
      { service: 'payment-service', name: 'POST /payments', kind: KIND.server, parent: null },
      {
        service: 'payment-service',
        name: 'payments publish',
        kind: KIND.producer,
        parent: 'POST /payments',
      },
      {
        service: 'payment-service',
        name: 'payments process',
        kind: KIND.consumer,
        parent: 'payments publish',
      },
      {
        service: 'payment-service',
        name: 'oauth token fetch',
        kind: KIND.client,
        parent: 'payments process',
      },
      {
        service: 'payment-service',
        name: 'provider POST',
        kind: KIND.client,
        parent: 'payments process',
      },
      {
        service: 'payment-service',
        name: 'payment-events publish',
        kind: KIND.producer,
        parent: 'payments process',
      },
      {
        service: 'reporting-service',
        name: 'payment-events process',
        kind: KIND.consumer,
        parent: 'payment-events publish',
      },
    ]);
    // parents by id, not only by name: each is the very span above it
    expect(enqueued.parentSpanId).toBe(http.spanId);
    expect(job.parentSpanId).toBe(enqueued.spanId);
    expect([token.parentSpanId, charge.parentSpanId, announced.parentSpanId]).toEqual([
      job.spanId,
      job.spanId,
      job.spanId,
    ]);
    expect(reported.parentSpanId).toBe(announced.spanId);

    expect(http.attr).toMatchObject({
      'http.route': '/payments',
      'http.response.status_code': '202',
      'request.id': requestId,
    });
    expect(job.attr['messaging.message.id']).toBe(paymentId);
    expect(charge.attr).toMatchObject({
      'url.path': '/v1/payments',
      'http.response.status_code': '201',
    });
    expect(job.attr['provider.object_id']).toMatch(/\S/);
  });

  it("links the provider's webhook about the payment by the provider's payment id, in a trace of its own", async () => {
    const job = await spanOf('payment-service', 'payments process');
    const providerPaymentId = job.attr['provider.object_id'];
    const webhook = await spanOf(
      'webhook-service',
      'POST /webhooks/provider',
      (s) => s.attr['provider.object_id'] === providerPaymentId,
    );
    expect(webhook.traceId).not.toBe(job.traceId);
    const fanout = await spanOf(
      'webhook-service',
      'provider-events publish',
      (s) => s.traceId === webhook.traceId,
    );
    const received = await spanOf(
      'reporting-service',
      'provider-events process',
      (s) => s.traceId === webhook.traceId,
    );
    expect(fanout.parentSpanId).toBe(webhook.spanId);
    expect(received.parentSpanId).toBe(fanout.spanId);
  });

  it('logs each job succeeded (taken is debug) with the HTTP request id as its correlation id', async () => {
    const http = await spanOf('payment-service', 'POST /payments');
    const steps = (service: string, queue: string) =>
      logLines(service)
        .filter((l) => l.queue === queue && l.correlationId === requestId)
        .map((l) => ({ job: l.job, traceId: l.traceId, timed: typeof l.durationMs === 'number' }));
    expect(steps('payment-service', 'payments')).toEqual([
      { job: 'succeeded', traceId: http.traceId, timed: true },
    ]);
    await waitFor('reporting-service to log the event job', async () =>
      steps('reporting-service', 'payment-events').length === 1 ? true : undefined,
    );
    expect(steps('reporting-service', 'payment-events')).toEqual([
      { job: 'succeeded', traceId: http.traceId, timed: true },
    ]);
  });

  it('exports no token, key or credential', () => {
    const exported = receiver.bodies.join('\n');
    expect(exported.length).toBeGreaterThan(1000);
    expect(exported).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
    expect(exported).not.toMatch(/PRIVATE KEY|authorization|bearer/i);
  });
});
