import { readFileSync } from 'node:fs';
import { ScenarioLog, compromisedReporting, scenario } from './scenario';
import { stackSecrets, startStack, type Stack } from './stack';

jest.setTimeout(180_000);

let stack: Stack;
const log = new ScenarioLog(() => undefined);

beforeAll(async () => {
  stack = await startStack();
  await scenario(stack, log);
  await compromisedReporting(stack, log);
});
afterAll(async () => {
  await stack?.stop();
});

describe('end to end: payment -> refund -> webhook -> report through the real processes', () => {
  it('holds every check of the scenario', () => {
    expect(log.checks.filter((c) => !c.ok)).toEqual([]);
    expect(log.checks.length).toBeGreaterThanOrEqual(12);
  });

  it('charged every payment exactly once and applied the refund, at the provider', async () => {
    const ledger = await stack.sandbox.admin.ledger();
    expect(ledger.payments).toHaveLength(3);
    expect(new Set(ledger.payments.map((p) => p.idempotency_key)).size).toBe(3);
    expect(ledger.payments.every((p) => p.client_id === 'payment-service')).toBe(true);
    expect(ledger.refunds).toHaveLength(1);
    expect(ledger.refunds[0]).toMatchObject({ client_id: 'refund-service', amount: 500 });
  });

  it('reports exactly the provider transactions', async () => {
    const res = await stack.callers['finance-dashboard'].fetch(
      'reporting-service',
      '/reports/summary',
    );
    const summary = (await res.json()) as {
      reconciled: boolean;
      payments: { count: number };
      refunds: { count: number };
    };
    expect(summary).toMatchObject({
      reconciled: true,
      payments: { count: 3 },
      refunds: { count: 1 },
    });
  });

  it("ran all four services' real BullMQ paths under the generated Redis ACL without a single denial", async () => {
    expect(await stack.redis.admin().call('ACL', 'LOG')).toEqual([]);
  });

  it('wrote no secret, key or token to any log of any process', async () => {
    const secrets = await stackSecrets(stack);
    const logs = stack.logFiles.map((f) => ({ f, text: readFileSync(f, 'utf8') }));
    expect(logs.reduce((n, l) => n + l.text.length, 0)).toBeGreaterThan(1000); // the logs exist
    for (const { f, text } of logs) {
      for (const s of secrets)
        expect({ file: f, leaked: text.includes(s) }).toEqual({ file: f, leaked: false });
      expect({ file: f, jwt: /eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\./.test(text) }).toEqual(
        { file: f, jwt: false },
      );
      expect({ file: f, pem: text.includes('PRIVATE KEY-----') }).toEqual({ file: f, pem: false });
    }
  });
});
