import 'reflect-metadata';
import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { FakeRuntime } from '@lpi/integration-runtime';
import { PermanentJobError, type Envelope } from '@lpi/messaging';
import { shutdownGracefully, startService } from '@lpi/service-bootstrap';
import { RefundsModule } from './refunds.module';

// refund-service with fake ports: the shared request endpoint on /refunds and the refund job
const rt = new FakeRuntime('refund-service');
@Module({ imports: [rt.module(), RefundsModule] })
class TestApp {}

let app: NestExpressApplication;
let base: string;
beforeAll(async () => {
  app = await startService({ service: 'refund-service', module: TestApp, port: 0 });
  base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
});
afterAll(() => shutdownGracefully(app));

const post = (body: unknown, key = 'r-1') =>
  fetch(`${base}/refunds`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: JSON.stringify(body),
  });
const refund = { provider_payment_id: 'pp_1', amount: 500, currency: 'EUR', reason: 'damaged' };

it('queues a refund, answers a retry with its status, and refuses the key with another body', async () => {
  const res = await post(refund);
  expect(res.status).toBe(202);
  const { refund_id } = (await res.json()) as { refund_id: string };
  expect(refund_id).toMatch(/^ref_[A-Za-z0-9_-]{24}$/);
  expect(rt.added.get('refunds')?.map((a) => a.data)).toEqual([{ refund_id, ...refund }]);
  await rt.records
    .get('refunds.requests')!
    .settle(refund_id, { state: 'failed', failureCode: 'x' });
  expect(await (await post(refund)).json()).toEqual({ refund_id, status: 'failed' });
  expect((await post({ ...refund, amount: 600 })).status).toBe(409);
  expect(await (await fetch(`${base}/refunds/${refund_id}`)).json()).toEqual({
    refund_id,
    status: 'failed',
  });
  expect((await fetch(`${base}/refunds/ref_%E0%A4%A`)).status).toBe(400);
});

it('refuses a reason that looks like a card number with a 400 that does not echo it', async () => {
  const res = await post({ ...refund, reason: 'card 4000056655665556 was charged twice' }, 'r-2');
  expect(res.status).toBe(400);
  const { error } = (await res.json()) as { error: { code: string; message: string } };
  expect(error.code).toBe('sensitive_value_refused');
  expect(error.message).toContain('reason');
  expect(error.message).not.toContain('4000056655665556');
});

describe('the refunds job', () => {
  const envelope = (refund_id: string): Envelope<'refunds'> => ({
    id: 'evt_1',
    type: 'refund.requested',
    version: 1,
    occurredAt: new Date().toISOString(),
    correlationId: 'cor_1',
    data: { refund_id, provider_payment_id: 'pp_1', amount: 500, currency: 'EUR' },
  });
  const job = (id: string) => ({ id, attemptsMade: 0, attemptsStarted: 1, attempts: 5 });

  it('refunds under a key derived from the business id and announces the result', async () => {
    rt.provider = async () => ({ status: 201, data: { id: 're_7' }, headers: {} });
    const id = 'ref_AAAAAAAAAAAAAAAAAAAAAAAA';
    await expect(rt.handlers.get('refunds')!(envelope(id), job(id))).resolves.toEqual({
      provider_refund_id: 're_7',
    });
    expect(rt.providerCalls.at(-1)).toMatchObject({
      path: '/v1/refunds',
      body: { payment: 'pp_1', amount: 500 },
      idempotencyKey: `refund:${id}`,
    });
    expect(rt.added.get('refund-events')?.[0].options).toEqual({
      jobId: `evt-${id}`,
      correlationId: 'cor_1',
      payloadChecked: true,
    });
  });

  it('fails for good when the provider refuses the refund', async () => {
    rt.provider = async () => ({ status: 422, data: {}, headers: {} });
    const id = 'ref_BBBBBBBBBBBBBBBBBBBBBBBB';
    await expect(rt.handlers.get('refunds')!(envelope(id), job(id))).rejects.toBeInstanceOf(
      PermanentJobError,
    );
  });
});
