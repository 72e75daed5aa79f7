import 'reflect-metadata';
import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { RateLimitedError } from '@lpi/auth';
import { FakeRuntime } from '@lpi/integration-runtime';
import type { QueueName } from '@lpi/access-matrix';
import type { Envelope } from '@lpi/messaging';
import { shutdownGracefully, startService } from '@lpi/service-bootstrap';
import { ReportsModule } from './reports.module';

// reporting-service with fake ports: its three consumers and the reconciling summary
const rt = new FakeRuntime('reporting-service');
@Module({ imports: [rt.module(), ReportsModule] })
class TestApp {}

let app: NestExpressApplication;
let base: string;
beforeAll(async () => {
  app = await startService({ service: 'reporting-service', module: TestApp, port: 0 });
  base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
});
afterAll(() => shutdownGracefully(app));

const deliver = <Q extends QueueName>(queue: Q, data: Envelope<Q>['data']) =>
  rt.handlers.get(queue)!(
    { id: 'evt_1', type: 'x', version: 1, occurredAt: '', correlationId: 'c', data } as never,
    { id: '1', attemptsMade: 0, attemptsStarted: 1 },
  );
const summary = () => fetch(`${base}/reports/summary`);

it('registers exactly the queues the matrix lets it consume', () => {
  expect([...rt.handlers.keys()].sort()).toEqual([
    'payment-events',
    'provider-events',
    'refund-events',
  ]);
});

it('reconciles what its queues told it against every page of provider transactions', async () => {
  await deliver('payment-events', {
    payment_id: 'pay_1',
    provider_payment_id: 'pp_1',
    status: 'succeeded',
    amount: 1000,
    currency: 'EUR',
  });
  await deliver('provider-events', {
    webhook_id: 'msg_1',
    event_type: 'payment.succeeded',
    object_id: 'pp_1',
  });
  const pages = [
    { data: [{ id: 'pp_1', type: 'payment', amount: 1000, currency: 'EUR' }], has_more: true },
    { data: [], has_more: false },
  ];
  rt.provider = async () => ({ status: 200, data: pages.shift(), headers: {} });
  expect(await (await summary()).json()).toEqual({
    payments: { count: 1, amount: 1000 },
    refunds: { count: 0, amount: 0 },
    provider: { transactions: 1, net_amount: 1000 },
    provider_events_received: 1,
    reconciled: true,
  });
});

it.each([
  [
    'a 429 from the provider',
    async () => {
      throw new RateLimitedError(2500);
    },
    'provider_rate_limited',
    '3',
  ],
  [
    'a provider 500',
    async () => ({ status: 500, data: { error: 'boom' }, headers: {} }),
    'provider_unavailable',
    '5',
  ],
  [
    'an unreachable provider',
    async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    },
    'provider_unavailable',
    '5',
  ],
])('answers %s with a 503 and Retry-After, not a 500', async (_what, answer, code, retryAfter) => {
  rt.provider = answer as never;
  const res = await summary();
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe(retryAfter);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
});
