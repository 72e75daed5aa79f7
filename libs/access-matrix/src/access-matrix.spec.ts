import {
  ACCESS_MATRIX,
  CALLER_NAMES,
  PROVIDER_SCOPES,
  PUBLIC_ROUTES,
  ROUTE_SCOPES,
  callerGrants,
  callerRoutesOf,
  callerScopesFor,
  callersOf,
  identityRoleName,
  isCallerRoute,
  isSignedRoute,
  routeKey,
  routesOf,
  servicesCalledBy,
  QUEUE_NAMES,
  SERVICE_NAMES,
  consumersOf,
  grantOf,
  producersOf,
} from './access-matrix';
import { allCallerVaultPolicies, allVaultPolicies, callerVaultPolicyFor } from './vault-policies';

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

describe('access matrix: callers of the HTTP routes', () => {
  it('callers are identities of their own, never services', () => {
    for (const c of CALLER_NAMES)
      expect((SERVICE_NAMES as readonly string[]).includes(c)).toBe(false);
    for (const s of SERVICE_NAMES)
      for (const r of callerRoutesOf(s))
        for (const c of r.callers)
          expect((CALLER_NAMES as readonly string[]).includes(c)).toBe(true);
  });

  it('declares every route once, none shadowing a public one', () => {
    for (const s of SERVICE_NAMES) {
      const keys = routesOf(s).map(routeKey);
      expect({ s, keys: new Set(keys).size }).toEqual({ s, keys: keys.length });
      expect(
        PUBLIC_ROUTES.map((r) => r.path).every((p) => p.startsWith('/health/') || p === '/metrics'),
      ).toBe(true);
    }
  });

  it('gives every route scope to one service, and uses each declared scope', () => {
    const owners = new Map<string, Set<string>>();
    for (const s of SERVICE_NAMES)
      for (const r of callerRoutesOf(s))
        owners.set(r.scope, (owners.get(r.scope) ?? new Set()).add(s));
    for (const [scope, holders] of owners)
      expect({ scope, n: holders.size }).toEqual({ scope, n: 1 });
    expect([...owners.keys()].sort()).toEqual([...ROUTE_SCOPES].sort());
  });

  it('opens the network zone a route needs and no other', () => {
    for (const s of SERVICE_NAMES) {
      const { routes, callers } = grantOf(s).http;
      expect({ s, edge: callers.includes('edge') }).toEqual({
        s,
        edge: routes.some(isCallerRoute),
      });
      expect({ s, provider: callers.includes('provider') }).toEqual({
        s,
        provider: routes.some(isSignedRoute),
      });
    }
  });

  it('keeps money movement to its callers (fixed, not derived)', () => {
    expect(callersOf('payment-service', { method: 'POST', path: '/payments' })).toEqual([
      'checkout',
    ]);
    expect(callersOf('refund-service', { method: 'POST', path: '/refunds' })).toEqual([
      'support-console',
    ]);
    expect(servicesCalledBy('finance-dashboard')).toEqual(['reporting-service']);
    expect(callerScopesFor('finance-dashboard', 'reporting-service')).toEqual(['reports:read']);
    expect(callersOf('webhook-service', { method: 'POST', path: '/webhooks/provider' })).toEqual(
      [],
    );
  });

  it('names one identity role per granted (caller, service) pair', () => {
    expect(callerGrants().map((g) => identityRoleName(g.caller, g.service))).toEqual([
      'checkout-to-payment-service',
      'support-console-to-payment-service',
      'support-console-to-refund-service',
      'finance-dashboard-to-reporting-service',
    ]);
  });

  it("lets a caller's Vault policy mint exactly its granted audiences, and a service's none", () => {
    for (const c of CALLER_NAMES) {
      const paths = [
        ...callerVaultPolicyFor(c).matchAll(/path "([^"]+)" \{\n {2}capabilities = \["read"\]/g),
      ].map((m) => m[1]);
      expect(paths).toEqual(
        servicesCalledBy(c).map((s) => `identity/oidc/token/${identityRoleName(c, s)}`),
      );
      expect(callerVaultPolicyFor(c).match(/path "/g)?.length).toBe(paths.length);
    }
    for (const hcl of Object.values(allVaultPolicies())) expect(hcl).not.toContain('identity/');
    expect(Object.keys(allCallerVaultPolicies()).sort()).toEqual([...CALLER_NAMES].sort());
  });
});
