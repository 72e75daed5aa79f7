import 'reflect-metadata';
import { Module } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { RateLimitedError } from '@lpi/auth';
import { FakeRuntime } from '@lpi/integration-runtime';
import type { QueueName } from '@lpi/access-matrix';
import type { Envelope } from '@lpi/messaging';
import { Database, prepareDatabase } from '@lpi/database';
import { shutdownGracefully, startService } from '@lpi/service-bootstrap';
import { startPostgresServer, type PostgresServer } from '@lpi/testing';
import { ReportsModule } from './reports.module';

// reporting-service with fake ports but its real read model: a private PostgreSQL
const rt = new FakeRuntime('reporting-service');
@Module({ imports: [rt.module(), ReportsModule] })
class TestApp {}

let app: NestExpressApplication;
let base: string;
let pg: PostgresServer;
let db: Database;
beforeAll(async () => {
  pg = await startPostgresServer();
  await prepareDatabase(pg.url());
  db = new Database({
    host: pg.host,
    port: pg.port,
    database: pg.database,
    poolMax: 4,
    caFile: undefined,
  });
  await db.useLogin({ ...pg.superuser, leaseId: 'none' });
  rt.database = db;
  app = await startService({ service: 'reporting-service', module: TestApp, port: 0 });
  base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
}, 60_000);
afterAll(async () => {
  await shutdownGracefully(app);
  await db.close();
  await pg.stop();
});

const deliver = <Q extends QueueName>(queue: Q, data: Envelope<Q>['data']) =>
  rt.handlers.get(queue)!(
    { id: 'evt_1', type: 'x', version: 1, occurredAt: '', correlationId: 'c', data } as never,
    { id: '1', attemptsMade: 0, attemptsStarted: 1, attempts: 5 },
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
    payments: { count: 1, by_currency: { EUR: 1000 } },
    refunds: { count: 0, by_currency: {} },
    provider: { transactions: 1, net_by_currency: { EUR: 1000 } },
    provider_events_received: 1,
    reconciled: true,
  });
});

it('reads only what is new from the provider (by its stored cursor), keeps currencies apart, and survives redelivery', async () => {
  await deliver('payment-events', {
    payment_id: 'pay_2',
    provider_payment_id: 'pp_2',
    status: 'succeeded',
    amount: 700,
    currency: 'USD',
  });
  await deliver('payment-events', {
    payment_id: 'pay_2',
    provider_payment_id: 'pp_2',
    status: 'succeeded',
    amount: 700,
    currency: 'USD',
  });
  await deliver('refund-events', {
    refund_id: 'ref_1',
    provider_refund_id: 're_1',
    provider_payment_id: 'pp_1',
    status: 'succeeded',
    amount: 300,
    currency: 'EUR',
  });
  const asked: (string | undefined)[] = [];
  rt.provider = async (req) => {
    asked.push((req.query as Record<string, string>).starting_after);
    return {
      status: 200,
      data: {
        data: [
          { id: 'pp_2', type: 'payment', amount: 700, currency: 'USD' },
          { id: 're_1', type: 'refund', amount: -300, currency: 'EUR' },
        ],
        has_more: false,
      },
      headers: {},
    };
  };
  expect(await (await summary()).json()).toEqual({
    payments: { count: 2, by_currency: { EUR: 1000, USD: 700 } },
    refunds: { count: 1, by_currency: { EUR: 300 } },
    provider: { transactions: 3, net_by_currency: { EUR: 700, USD: 700 } },
    provider_events_received: 1,
    reconciled: true,
  });
  expect(asked).toEqual(['pp_1']); // after the last one the first summary read
});

it('is not reconciled when the provider has a transaction we do not (and the other way round)', async () => {
  rt.provider = async () => ({
    status: 200,
    data: {
      data: [{ id: 'pp_unknown', type: 'payment', amount: 1, currency: 'EUR' }],
      has_more: false,
    },
    headers: {},
  });
  expect(((await (await summary()).json()) as { reconciled: boolean }).reconciled).toBe(false);
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

it('counts each event once when deliveries race (the totals move with the row, in one statement)', async () => {
  rt.provider = async () => ({ status: 200, data: { data: [], has_more: false }, headers: {} });
  const before = (await (await summary()).json()) as { payments: { count: number } };
  const event = (i: number) => ({
    payment_id: `pay_race_${i}`,
    provider_payment_id: `pp_race_${i}`,
    status: 'succeeded' as const,
    amount: 10,
    currency: 'CHF',
  });
  await Promise.all(Array.from({ length: 60 }, (_, i) => deliver('payment-events', event(i % 30))));
  const after = (await (await summary()).json()) as {
    payments: { count: number; by_currency: Record<string, number> };
  };
  expect(after.payments.count - before.payments.count).toBe(30);
  expect(after.payments.by_currency.CHF).toBe(300);
  const recount = await db.query<{ n: string; s: string }>(
    `SELECT count(*) AS n, sum(amount) AS s FROM reporting.payments WHERE currency = 'CHF'`,
  );
  expect(recount.rows[0]).toEqual({ n: '30', s: '300' });
});
