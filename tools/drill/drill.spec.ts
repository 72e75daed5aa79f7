import { runDrill, type DrillResult } from './drill';

jest.setTimeout(180_000);

let result: DrillResult;
beforeAll(async () => {
  result = await runDrill({ print: () => undefined, writeOutputs: false });
});

describe('breach drill', () => {
  it('holds every expectation of the access matrix at every layer', () => {
    expect(result.failures).toEqual([]);
  });

  it('ran positive controls, so a system that denies everything cannot pass', () => {
    expect(result.positiveControls).toBeGreaterThan(20);
    for (const layer of ['oauth', 'vault', 'redis'] as const) {
      expect(result.rows.some((r) => r.layer === layer && r.expected === 'allow' && r.ok)).toBe(
        true,
      );
    }
  });

  it('a compromised reporting-service cannot create a payment or a refund by any path (fixed)', () => {
    const fixed = result.rows.filter((r) => r.fixed && r.service === 'reporting-service');
    const paths = fixed.map((r) => r.capability).join('\n');
    expect(paths).toMatch(/token with payments:write/);
    expect(paths).toMatch(/token with refunds:write/);
    expect(paths).toMatch(/POST \/v1\/payments/);
    expect(paths).toMatch(/POST \/v1\/refunds/);
    expect(paths).toMatch(/enqueue into payments/);
    expect(paths).toMatch(/enqueue into refunds/);
    expect(fixed.every((r) => r.ok && r.expected === 'deny')).toBe(true);
  });

  it('a stolen payment-service token without its private key cannot be used (fixed)', () => {
    const stolen = result.rows.filter(
      (r) =>
        r.fixed &&
        r.layer === 'mtls' &&
        /payment-service's stolen token|own token/.test(r.capability),
    );
    expect(stolen.length).toBeGreaterThanOrEqual(3);
    expect(stolen.every((r) => r.ok && !r.actual.startsWith('allowed'))).toBe(true);
  });

  it('the incident drill locks the attacker out while the real service keeps working', () => {
    const incident = result.rows.filter((r) => r.service === 'incident');
    expect(incident.length).toBeGreaterThanOrEqual(6);
    expect(incident.every((r) => r.ok)).toBe(true);
  });
});
