import 'reflect-metadata';
import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FakeRuntime } from '@lpi/integration-runtime';
import { PermanentJobError, type Envelope } from '@lpi/messaging';
import { shutdownGracefully, startService } from '@lpi/service-bootstrap';
import { secretShapedText } from '@lpi/testing';
import { PaymentsModule } from './payments.module';

// payment-service with fake ports: its HTTP edge and its job handler, no Redis or provider
const rt = new FakeRuntime('payment-service', async () => ({
  status: 201,
  data: { id: 'pp_test1' },
  headers: {},
}));
@Module({ imports: [rt.module(), PaymentsModule] })
class TestApp {}

let app: NestExpressApplication;
let base: string;
beforeAll(async () => {
  app = await startService({ service: 'payment-service', module: TestApp, port: 0 });
  base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
});
afterAll(() => shutdownGracefully(app));
const records = () => rt.records.get('payments.requests')!;
beforeEach(() => {
  rt.added.clear();
  records().rows.clear();
  records().down = false;
  rt.redisDown = false;
});

const post = (body: string, headers: Record<string, string> = {}) =>
  fetch(`${base}/payments`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'k-1', ...headers },
    body,
  });
const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string; request_id: string } }).error;
const payment = JSON.stringify({ amount: 1000, currency: 'EUR', description: 'order 17' });

describe('POST /payments', () => {
  it('queues a payment under the business id its Idempotency-Key names, correlated with the request id', async () => {
    const res = await post(payment, { 'x-request-id': 'req-checkout-17' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { payment_id: string; status: string };
    expect(body).toEqual({ payment_id: expect.stringMatching(/^pay_/), status: 'queued' });
    expect(rt.added.get('payments')).toEqual([
      {
        data: {
          payment_id: body.payment_id,
          amount: 1000,
          currency: 'EUR',
          description: 'order 17',
        },
        // the stored record's fingerprint is the body check: the job is not read back
        options: { jobId: body.payment_id, correlationId: 'req-checkout-17', payloadChecked: true },
      },
    ]);
    // stored before it was queued, and marked queued after
    expect(records().rows.get(body.payment_id)).toMatchObject({
      state: 'queued',
      data: { amount: 1000, currency: 'EUR', description: 'order 17' },
    });
  });

  it('answers a retry with where the first request stands, and refuses the key with another body', async () => {
    const first = (await (await post(payment)).json()) as { payment_id: string };
    await records().settle(first.payment_id, { state: 'succeeded', providerId: 'pp_9' });
    const again = await post(payment);
    expect(again.status).toBe(202);
    expect(await again.json()).toEqual({
      payment_id: first.payment_id,
      status: 'succeeded',
      provider_payment_id: 'pp_9',
    });
    const other = await post(JSON.stringify({ amount: 2000, currency: 'EUR' }));
    expect(other.status).toBe(409);
    expect((await errorOf(other)).code).toBe('idempotency_key_reused');
    expect(rt.added.get('payments')).toHaveLength(1);
  });

  it.each([
    ['no Idempotency-Key', payment, { 'idempotency-key': '' }, 400, 'idempotency_key_required'],
    ['text/plain', payment, { 'content-type': 'text/plain' }, 415, 'unsupported_media_type'],
    [
      'a form body',
      'amount=1',
      { 'content-type': 'application/x-www-form-urlencoded' },
      415,
      'unsupported_media_type',
    ],
    ['an array', '[1,2]', {}, 400, 'invalid_parameters'],
    ['a number', '5', {}, 400, 'malformed_request'],
    ['a string', '"pay me"', {}, 400, 'malformed_request'],
    ['broken JSON', '{"amount":', {}, 400, 'malformed_request'],
    [
      'an unknown field',
      JSON.stringify({ amount: 1, currency: 'EUR', x: 1 }),
      {},
      400,
      'invalid_parameters',
    ],
    ['deep nesting', `${'['.repeat(5000)}${']'.repeat(5000)}`, {}, 400, 'json_too_deep'],
    [
      'deep nesting in a field',
      `{"description":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`,
      {},
      400,
      'json_too_deep',
    ],
    [
      'too large',
      JSON.stringify({ description: 'x'.repeat(70_000) }),
      {},
      413,
      'payload_too_large',
    ],
  ])('refuses %s in the envelope, queuing nothing', async (_what, body, headers, status, code) => {
    const res = await post(body, headers);
    expect(res.status).toBe(status);
    expect(await errorOf(res)).toEqual({
      type: 'invalid_request_error',
      code,
      message: expect.any(String),
      request_id: expect.any(String),
    });
    expect(rt.added.get('payments')).toBeUndefined();
  });

  it.each([
    ['a card number', '4242 4242 4242 4242'],
    ['a JWT', secretShapedText().jwt],
    ['a Vault token', secretShapedText().vaultToken],
  ])(
    'refuses free text that looks like %s with a 400 naming the field, not the value',
    async (_what, text) => {
      const res = await post(
        JSON.stringify({ amount: 1000, currency: 'EUR', description: `ref ${text}` }),
      );
      expect(res.status).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('sensitive_value_refused');
      expect(error.message).toMatch(/^description looks like/);
      expect(error.message).not.toContain(text.slice(0, 8));
      expect(rt.added.get('payments')).toBeUndefined();
    },
  );

  it('accepts while Redis is unreachable: stored, and queued by the outbox once Redis is back', async () => {
    rt.redisDown = true;
    const res = await post(payment);
    expect(res.status).toBe(202);
    const { payment_id } = (await res.json()) as { payment_id: string };
    expect(records().rows.get(payment_id)?.state).toBe('received');
    expect(rt.added.get('payments')).toBeUndefined();
    rt.redisDown = false;
    // a retry with the same key queues it (so does the sweep, tested in the outbox spec)
    expect((await post(payment)).status).toBe(202);
    expect(rt.added.get('payments')).toHaveLength(1);
    expect(records().rows.get(payment_id)?.state).toBe('queued');
  });

  it('answers 503 with Retry-After while the database is unreachable, queuing nothing', async () => {
    records().down = true;
    const res = await post(payment);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    expect((await errorOf(res)).code).toBe('database_unavailable');
    expect(rt.added.get('payments')).toBeUndefined();
  });
});

describe('GET /payments/:id', () => {
  it('reads the status from the record; unknown, malformed and badly encoded ids are 4xx', async () => {
    const { payment_id } = (await (await post(payment)).json()) as { payment_id: string };
    expect(await (await fetch(`${base}/payments/${payment_id}`)).json()).toEqual({
      payment_id,
      status: 'queued',
    });
    for (const [path, status] of [
      ['/payments/pay_AAAAAAAAAAAAAAAAAAAAAAAA', 404],
      ['/payments/nope', 404],
      ['/payments/%E0%A4%A', 400],
      ['/payments/%', 400],
    ] as const) {
      const res = await fetch(`${base}${path}`);
      expect({ path, status: res.status }).toEqual({ path, status });
      expect((await errorOf(res)).code).toMatch(/^(payment_not_found|malformed_request)$/);
    }
    // the job is not asked: Redis away changes nothing, the database away is a 503
    rt.redisDown = true;
    expect((await fetch(`${base}/payments/${payment_id}`)).status).toBe(200);
    records().down = true;
    expect((await fetch(`${base}/payments/${payment_id}`)).status).toBe(503);
  });
});

describe('the payments job', () => {
  const envelope = (payment_id: string): Envelope<'payments'> => ({
    id: 'evt_1',
    type: 'payment.requested',
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: 'cor_1',
    data: { payment_id, amount: 1000, currency: 'EUR' },
  });
  const handler = () => rt.handlers.get('payments')!;

  it('charges under a key derived from the business id and announces the result', async () => {
    rt.provider = async () => ({ status: 201, data: { id: 'pp_42' }, headers: {} });
    const id = 'pay_AAAAAAAAAAAAAAAAAAAAAAAA';
    await expect(
      handler()(envelope(id), { id, attemptsMade: 0, attemptsStarted: 1, attempts: 5 }),
    ).resolves.toEqual({
      provider_payment_id: 'pp_42',
    });
    expect(records().rows.get(id)).toBeUndefined(); // settling an unknown id changes nothing
    expect(rt.providerCalls.at(-1)).toMatchObject({
      method: 'POST',
      path: '/v1/payments',
      idempotencyKey: `charge:${id}`,
    });
    expect(rt.added.get('payment-events')?.[0]).toEqual({
      data: {
        payment_id: id,
        provider_payment_id: 'pp_42',
        status: 'succeeded',
        amount: 1000,
        currency: 'EUR',
      },
      options: { jobId: `evt-${id}`, correlationId: 'cor_1', payloadChecked: true },
    });
  });

  it('settles the stored record: succeeded with the provider id, or failed for good', async () => {
    const { payment_id } = (await (await post(payment)).json()) as { payment_id: string };
    rt.provider = async () => ({ status: 201, data: { id: 'pp_43' }, headers: {} });
    await handler()(envelope(payment_id), {
      id: payment_id,
      attemptsMade: 0,
      attemptsStarted: 1,
      attempts: 5,
    });
    expect(await (await fetch(`${base}/payments/${payment_id}`)).json()).toEqual({
      payment_id,
      status: 'succeeded',
      provider_payment_id: 'pp_43',
    });
  });

  it.each([
    ['a provider 4xx on the first attempt', 402, 0, 'failed'],
    ['a provider 5xx on the last attempt', 503, 4, 'failed'],
    ['a provider 5xx with attempts left', 503, 1, 'queued'],
  ])(
    'on %s (status %d, %d attempts made) the record reads %s',
    async (_what, status, attemptsMade, expected) => {
      const { payment_id } = (await (
        await post(payment, { 'idempotency-key': `k-${status}-${attemptsMade}` })
      ).json()) as { payment_id: string };
      rt.provider = async () => ({ status, data: {}, headers: {} });
      await expect(
        handler()(envelope(payment_id), {
          id: payment_id,
          attemptsMade,
          attemptsStarted: attemptsMade + 1,
          attempts: 5,
        }),
      ).rejects.toBeInstanceOf(Error);
      expect(
        ((await (await fetch(`${base}/payments/${payment_id}`)).json()) as { status: string })
          .status,
      ).toBe(expected);
      expect(rt.added.get('payment-events')).toBeUndefined();
    },
  );

  it('fails for good on a provider 4xx and announces nothing', async () => {
    rt.provider = async () => ({ status: 402, data: {}, headers: {} });
    const id = 'pay_BBBBBBBBBBBBBBBBBBBBBBBB';
    await expect(
      handler()(envelope(id), { id, attemptsMade: 0, attemptsStarted: 1, attempts: 5 }),
    ).rejects.toBeInstanceOf(PermanentJobError);
    expect(rt.added.get('payment-events')).toBeUndefined();
  });
});
