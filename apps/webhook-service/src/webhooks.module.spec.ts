import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Webhook } from 'standardwebhooks';
import { FakeRuntime } from '@lpi/integration-runtime';
import { shutdownGracefully, startService } from '@lpi/service-bootstrap';
import { WebhooksModule } from './webhooks.module';

// webhook-service with fake ports: the secret comes from the injected secret source
const secret = `whsec_${randomBytes(24).toString('base64')}`;
const rt = new FakeRuntime('webhook-service', undefined, { webhook_secret: secret });
@Module({ imports: [rt.module(), WebhooksModule] })
class TestApp {}

let app: NestExpressApplication;
let base: string;
beforeAll(async () => {
  app = await startService({ service: 'webhook-service', module: TestApp, port: 0 });
  base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
});
afterAll(() => shutdownGracefully(app));
beforeEach(() => {
  rt.added.clear();
  rt.redisDown = false;
});

let n = 0;
const deliver = (event: unknown, id = `msg_${++n}`, sign = secret) => {
  const body = JSON.stringify(event);
  const ts = new Date();
  return fetch(`${base}/webhooks/provider`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(ts.getTime() / 1000)),
      'webhook-signature': new Webhook(sign).sign(id, ts, body),
    },
    body,
  });
};
const queued = () => rt.added.get('provider-events') ?? [];
const paid = { type: 'payment.succeeded', data: { id: 'pp_1', amount: 1000, currency: 'EUR' } };

it('queues a signed event once under its webhook-id; a replay is acknowledged and dropped', async () => {
  expect((await deliver(paid, 'msg_once')).status).toBe(204);
  expect((await deliver(paid, 'msg_once')).status).toBe(204);
  expect(queued()).toEqual([
    {
      data: {
        webhook_id: 'msg_once',
        event_type: 'payment.succeeded',
        object_id: 'pp_1',
        amount: 1000,
        currency: 'EUR',
      },
      // correlated with the first delivery's request id (generated: the provider sends none)
      // the stored record's fingerprint is the body check: the job is not read back
      options: {
        jobId: 'wh-msg_once',
        correlationId: expect.stringMatching(/^req_/),
        payloadChecked: true,
      },
    },
  ]);
});

it('queues an event whose webhook-id holds characters a job id may not (a colon)', async () => {
  expect((await deliver(paid, 'msg:1/2')).status).toBe(204);
  expect(queued().map((q) => q.options.jobId)).toEqual(['wh-msg%3A1%2F2']);
});

it('refuses a delivery signed with another secret', async () => {
  const other = `whsec_${randomBytes(24).toString('base64')}`;
  const res = await deliver(paid, undefined, other);
  expect(res.status).toBe(401);
  expect(queued()).toEqual([]);
});

it.each([
  ['an unknown type', { type: 'Payment Succeeded!', data: {} }],
  ['no type', { data: { id: 'pp_1' } }],
  ['a nested type', { type: { a: { b: 1 } } }],
  ['a huge object id', { type: 'payment.succeeded', data: { id: 'x'.repeat(10_000) } }],
  ['an odd amount', { type: 'payment.succeeded', data: { id: 'pp_1', amount: -1.5 } }],
  ['a data array', { type: 'payment.succeeded', data: [1, 2] }],
  ['a card-number-like id', { type: 'payment.succeeded', data: { id: '4242424242424242' } }],
  ['an array', [paid]],
])('acknowledges a correctly signed event with %s and queues nothing', async (_what, event) => {
  const res = await deliver(event);
  expect(res.status).toBe(204);
  expect(queued()).toEqual([]);
});

it('refuses a bare JSON string (not an event object) with a 400 before verifying', async () => {
  expect((await deliver('payment.succeeded')).status).toBe(400);
  expect(queued()).toEqual([]);
});

it('refuses a huge webhook-id with a 400 in the envelope', async () => {
  const res = await deliver(paid, `msg_${'x'.repeat(500)}`);
  expect(res.status).toBe(400);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('webhook_id_invalid');
});

const events = () => rt.records.get('webhooks.events')!;

it('takes an event while Redis is down (stored), and queues it once when it comes again', async () => {
  rt.redisDown = true;
  expect((await deliver(paid, 'msg_retry')).status).toBe(204);
  expect(events().rows.get('msg_retry')?.state).toBe('received');
  rt.redisDown = false;
  expect((await deliver(paid, 'msg_retry')).status).toBe(204);
  expect((await deliver(paid, 'msg_retry')).status).toBe(204);
  expect(queued()).toHaveLength(1);
  expect(events().rows.get('msg_retry')?.state).toBe('queued');
});

it('answers 503 while the database is down (nothing taken: the provider delivers it again)', async () => {
  events().down = true;
  expect((await deliver(paid, 'msg_db_down')).status).toBe(503);
  events().down = false;
  expect(queued()).toEqual([]);
  expect((await deliver(paid, 'msg_db_down')).status).toBe(204);
  expect(queued()).toHaveLength(1);
});
