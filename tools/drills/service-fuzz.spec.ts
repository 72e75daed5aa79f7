import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { secretDataPathOf } from '@lpi/access-matrix';
import { secretShapedText, waitFor } from '@lpi/testing';
import { startStack, type Stack } from '../demo/stack';

// The services' own HTTP edges under random input: never a 5xx, every error in the
// envelope, and nothing enqueued (so nothing charged) from input that was refused.
jest.setTimeout(180_000);

let s: Stack;
beforeAll(async () => {
  s = await startStack({ rateLimitPerMinute: 6000 });
});
afterAll(async () => {
  await s?.stop();
});

const envelope = {
  error: {
    type: expect.any(String),
    code: expect.any(String),
    message: expect.any(String),
    request_id: expect.any(String),
  },
};
/** Any text, including what a database cannot store (NUL) and lone surrogates. */
const anyText = (maxLength?: number) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ maxLength: 20 }).map((t) => `${t}\u0000${t}`),
  );
const body = fc.oneof(
  fc.json(),
  anyText(),
  fc
    .record(
      {
        amount: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
        currency: fc.oneof(fc.constantFrom('EUR', 'eur', 'EURO', ''), anyText()),
        description: fc.option(anyText(300)),
        reason: fc.option(anyText(300)),
        provider_payment_id: fc.option(fc.oneof(anyText(), fc.constant('pp_x\u0000'))),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
);
const header = fc.option(
  fc.string({ minLength: 1, maxLength: 80 }).map((h) => h.replace(/[^\x21-\x7e]/g, 'x')),
);

it('payment-service and refund-service: no 5xx, the envelope on every error, and only accepted requests are charged', async () => {
  const accepted = new Set<string>();
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom('payment-service', 'refund-service'),
      fc.constantFrom('POST', 'GET', 'PUT', 'DELETE'),
      body,
      header,
      fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded'),
      fc.boolean(),
      async (svc, method, payload, key, type, withToken) => {
        const path = svc === 'payment-service' ? '/payments' : '/refunds';
        // the caller the matrix grants the route, or none (401 with the envelope)
        const caller = svc === 'payment-service' ? 'checkout' : 'support-console';
        const init = {
          method,
          headers: { 'content-type': type, ...(key ? { 'idempotency-key': key } : {}) },
          body: method === 'GET' ? undefined : payload,
        };
        const res = withToken
          ? await s.callers[caller].fetch(svc, path, init)
          : await fetch(`${s.services[svc].url}${path}`, init);
        expect(res.status).toBeLessThan(500);
        const json = (await res.json().catch(() => undefined)) as
          Record<string, unknown> | undefined;
        if (res.status >= 400) expect(json).toEqual(envelope);
        if (res.status === 202 && svc === 'payment-service') accepted.add(String(json?.payment_id));
      },
    ),
    { numRuns: 250 },
  );
  await waitFor('accepted payments to be charged', async () => {
    const ledger = await s.sandbox.admin.ledger();
    return ledger.payments.length >= accepted.size ? ledger : undefined;
  });
  const ledger = await s.sandbox.admin.ledger();
  expect(
    ledger.payments.map((p) => String(p.idempotency_key).replace('charge:', '')).sort(),
  ).toEqual([...accepted].sort());
});

it('webhook-service: unsigned, tampered or stale deliveries get a 4xx and enqueue nothing', async () => {
  const report = async () =>
    (
      (await (
        await s.callers['finance-dashboard'].fetch('reporting-service', '/reports/summary')
      ).json()) as {
        provider_events_received: number;
      }
    ).provider_events_received;
  const before = await report();
  await fc.assert(
    fc.asyncProperty(
      body,
      header,
      header,
      fc.option(fc.integer({ min: 0, max: 2_000_000_000 })),
      async (payload, id, sig, ts) => {
        const res = await fetch(`${s.services['webhook-service'].url}/webhooks/provider`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(id ? { 'webhook-id': id } : {}),
            ...(sig ? { 'webhook-signature': `v1,${sig}` } : {}),
            ...(ts !== null ? { 'webhook-timestamp': String(ts) } : {}),
          },
          body: payload,
        });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await res.json()).toEqual(envelope);
      },
    ),
    { numRuns: 200 },
  );
  await new Promise((r) => setTimeout(r, 500));
  expect(await report()).toBe(before);
});

it('sensitive-looking free text, deep nesting, odd paths and odd signed events: a 4xx or a 2xx, never a 5xx', async () => {
  const text = fc.oneof(
    fc.stringMatching(/^[0-9]{4}( ?[0-9]{4}){3}$/),
    fc.constantFrom(secretShapedText().jwt, secretShapedText().vaultToken, 'whsec_abcdefghijk'),
  );
  await fc.assert(
    fc.asyncProperty(text, fc.boolean(), async (t, onRefund) => {
      // from the caller the route grants: the edge's own checks, not the guard, must refuse it
      const caller = s.callers[onRefund ? 'support-console' : 'checkout'];
      const res = await caller.fetch(
        onRefund ? 'refund-service' : 'payment-service',
        onRefund ? '/refunds' : '/payments',
        {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'idempotency-key': `free-${Math.random()}`,
          },
          body: JSON.stringify(
            onRefund
              ? { provider_payment_id: 'pp_1', amount: 1, currency: 'EUR', reason: `x ${t}` }
              : { amount: 1, currency: 'EUR', description: `x ${t}` },
          ),
        },
      );
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body).toEqual(envelope);
      expect(body.error.code).toBe('sensitive_value_refused');
      expect(body.error.message).not.toContain(t);
    }),
    { numRuns: 40 },
  );
  for (const depth of [33, 1000, 100_000]) {
    const res = await s.callers.checkout.fetch('payment-service', '/payments', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `deep-${depth}` },
      body: `${'['.repeat(depth)}${']'.repeat(depth)}`,
    });
    expect([400, 413]).toContain(res.status);
    expect(await res.json()).toEqual(envelope);
  }
  for (const path of ['/payments/%E0%A4%A', '/payments/%', '/refunds/%ZZ', '/%C0%AF']) {
    const res = path.startsWith('/refunds')
      ? await s.callers['support-console'].fetch('refund-service', path)
      : await s.callers.checkout.fetch('payment-service', path);
    expect({ path, status: res.status }).toEqual({ path, status: 400 });
    expect(await res.json()).toEqual(envelope);
  }
  const kv = (await (
    await fetch(`${s.vault.addr}/v1/${secretDataPathOf('webhook-service')}`, {
      headers: { 'x-vault-token': s.vault.rootToken },
    })
  ).json()) as { data: { data: { webhook_secret: string } } };
  const signer = new Webhook(kv.data.data.webhook_secret);
  // events of the handled shape whose fields hold anything, and events of any shape
  const handled = fc.record({
    type: fc.constantFrom('payment.succeeded', 'refund.succeeded'),
    data: fc.record(
      { id: anyText(70), amount: fc.integer(), currency: fc.constantFrom('EUR', 'eur') },
      { requiredKeys: [] },
    ),
  });
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(fc.jsonValue({ maxDepth: 6 }), handled),
      fc.string({ minLength: 1, maxLength: 300 }),
      async (event, rawId) => {
        const id = rawId.replace(/[^\x21-\x7e]/g, 'x');
        const body = JSON.stringify(event);
        const at = new Date();
        const res = await fetch(`${s.services['webhook-service'].url}/webhooks/provider`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
            'webhook-signature': signer.sign(id, at, body),
          },
          body,
        });
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(await res.json()).toEqual(envelope);
      },
    ),
    { numRuns: 150 },
  );
});
