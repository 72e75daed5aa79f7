import {
  ACCESS_MATRIX,
  PROVIDER_SCOPES,
  QUEUE_NAMES,
  SERVICE_NAMES,
  consumersOf,
  grantOf,
  producersOf,
} from './access-matrix';

describe('access matrix', () => {
  it('declares every service under its own name', () => {
    for (const name of SERVICE_NAMES) expect(ACCESS_MATRIX[name].name).toBe(name);
  });

  it('gives every queue exactly one consumer and at least one producer', () => {
    for (const queue of QUEUE_NAMES) {
      expect({ queue, consumers: consumersOf(queue).length }).toEqual({ queue, consumers: 1 });
      expect(producersOf(queue).length).toBeGreaterThan(0);
    }
  });

  it('never grants a scope twice across services that do different jobs', () => {
    const owners = new Map<string, string[]>();
    for (const s of SERVICE_NAMES)
      for (const scope of grantOf(s).oauth.scopes)
        owners.set(scope, [...(owners.get(scope) ?? []), s]);
    for (const [, holders] of owners) expect(holders).toHaveLength(1);
    expect([...owners.keys()].sort()).toEqual([...PROVIDER_SCOPES].sort());
  });

  it('keeps money movement away from reporting-service (fixed, not derived)', () => {
    const reporting = grantOf('reporting-service');
    expect(reporting.oauth.scopes).not.toContain('payments:write');
    expect(reporting.oauth.scopes).not.toContain('refunds:write');
    expect(reporting.queues.produces).toEqual([]);
  });

  it('stores exactly the credential its token endpoint auth method uses', () => {
    for (const s of SERVICE_NAMES) {
      const { tokenEndpointAuthMethod: method } = grantOf(s).oauth;
      const fields = grantOf(s).vault.secretFields as readonly string[];
      expect({ s, secret: fields.includes('client_secret') }).toEqual({
        s,
        secret: method.startsWith('client_secret_'),
      });
      expect({ s, key: fields.includes('client_assertion_key') }).toEqual({
        s,
        key: method === 'private_key_jwt',
      });
    }
  });

  it('uses distinct ports', () => {
    const ports = SERVICE_NAMES.map((s) => grantOf(s).http.port);
    expect(new Set(ports).size).toBe(ports.length);
  });
});
