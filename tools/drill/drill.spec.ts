import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAMES } from '@lpi/access-matrix';
import { runDrill, type DrillResult } from './drill';
import { INCIDENT_SERVICES } from './incident-section';

jest.setTimeout(300_000);

const ROOT = join(__dirname, '..', '..');
const tracked = join(ROOT, 'docs', 'blast-radius.md');
let before: { text: string; mtimeMs: number };
let result: DrillResult;
beforeAll(async () => {
  before = { text: readFileSync(tracked, 'utf8'), mtimeMs: statSync(tracked).mtimeMs };
  result = await runDrill({ print: () => undefined });
});

describe('breach drill', () => {
  it('writes no tracked file (only the `npm run drill` command writes the report)', () => {
    expect(readFileSync(tracked, 'utf8')).toBe(before.text);
    expect(statSync(tracked).mtimeMs).toBe(before.mtimeMs);
  });

  it('has an observed verdict on every row: allow or deny, never a written-in result', () => {
    for (const r of result.rows) {
      expect(['allow', 'deny']).toContain(r.expected);
      expect(r.ok).toBe(
        r.expected === 'allow' ? r.actual.startsWith('allowed') : !r.actual.startsWith('allowed'),
      );
    }
  });

  it('holds every expectation of the access matrix at every layer', () => {
    expect(result.failures).toEqual([]);
  });

  it('ran positive controls, so a system that denies everything cannot pass', () => {
    expect(result.positiveControls).toBeGreaterThan(20);
    for (const layer of ['oauth', 'vault', 'redis', 'database'] as const) {
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
    expect(paths).toMatch(/INSERT payments\.requests/);
    expect(paths).toMatch(/UPDATE refunds\.requests/);
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

  it("a sibling's looted secret or key never gets a token over another service's certificate (fixed for payments:write)", () => {
    const sibling = result.rows.filter(
      (r) =>
        r.layer === 'mtls' &&
        /over own certificate|over \S+'s certificate \(token/.test(r.capability),
    );
    // every ordered pair of services, both directions
    expect(sibling.length).toBe(SERVICE_NAMES.length * (SERVICE_NAMES.length - 1) * 2);
    expect(sibling.every((r) => r.expected === 'deny' && r.ok)).toBe(true);
    const money = sibling.filter((r) => r.fixed);
    expect(money.map((r) => r.capability).join('\n')).toMatch(
      /payment-service's client secret over own certificate \(token with payments:write/,
    );
    expect(money.every((r) => r.ok && !r.actual.startsWith('allowed'))).toBe(true);
  });

  it("probes every other service's routes at the HTTP layer, with every declared caller as the control", () => {
    const http = result.rows.filter((r) => r.layer === 'http' && r.service !== 'incident');
    for (const service of SERVICE_NAMES)
      expect(
        http.filter((r) => r.service === service && / without a token$/.test(r.capability)).length,
      ).toBeGreaterThan(0);
    expect(http.some((r) => /with own Vault identity/.test(r.capability))).toBe(true);
    expect(http.some((r) => /expired token/.test(r.capability))).toBe(true);
    expect(http.some((r) => /another audience/.test(r.capability))).toBe(true);
    expect(
      http.filter((r) => r.expected === 'allow' && /declared caller/.test(r.capability)).length,
    ).toBeGreaterThan(0);
    expect(http.filter((r) => !r.ok)).toEqual([]);
  });

  it('no compromised service can run, load or register its own Lua (fixed)', () => {
    const lua = result.rows.filter(
      (r) => r.layer === 'redis' && /EVAL|SCRIPT LOAD|FUNCTION LOAD/.test(r.capability),
    );
    expect(lua).toHaveLength(SERVICE_NAMES.length * 3);
    expect(lua.every((r) => r.fixed && r.expected === 'deny' && r.ok)).toBe(true);
    expect(lua.every((r) => r.actual === 'denied: NOPERM')).toBe(true);
  });

  it('every edge answers an oversized and a malformed body with a 4xx in its own format and stays up', () => {
    const edge = result.rows.filter((r) => r.layer === 'edge');
    // 4 services, vault-dev, the token endpoint, the payments API; two requests each
    expect(edge).toHaveLength(SERVICE_NAMES.length * 7 * 2);
    expect(edge.filter((r) => !r.ok)).toEqual([]);
  });

  it.each(INCIDENT_SERVICES)(
    'after npm run incident -- %s, every piece of the loot is worthless and no request failed',
    (service) => {
      const rows = result.rows.filter(
        (r) => r.service === 'incident' && r.capability.startsWith(`${service}: `),
      );
      const tried = rows.map((r) => r.capability).join('\n');
      for (const loot of [
        /the runbook ran to its end/,
        /stolen Vault token: lookup-self/,
        /stolen Vault token: renew-self/,
        /stolen Vault token: read the new secret/,
        /log in with the used secret-id/,
        /log in with an unused old secret-id/,
        /old (client secret|assertion key) with the old certificate/,
        /old (client secret|assertion key) over the new certificate/,
        /old certificate with the new/,
        /old certificate at the API with a fresh token/,
        /access token issued before the incident/,
        /the Redis session opened before the incident/,
        /reconnect with the old password/,
        /every request sent through the service during the incident/,
        /the service is ready on its new identity/,
      ])
        expect(tried).toMatch(loot);
      if (service === 'reporting-service') expect(tried).toMatch(/old refresh token/);
      expect(rows.filter((r) => !r.ok)).toEqual([]);
      expect(rows.find((r) => /reconnect with the old password/.test(r.capability))?.actual).toBe(
        'denied: WRONGPASS',
      );
    },
  );
});
