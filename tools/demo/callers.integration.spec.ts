import { randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair } from 'jose';
import {
  CALLER_NAMES,
  SERVICE_NAMES,
  callerRoutesOf,
  identityRoleName,
  routeKey,
  routesOf,
  servicesCalledBy,
  type CallerRoute,
  type ServiceName,
} from '@lpi/access-matrix';
import { queuedJobs } from './scenario';
import { startStack, type Stack } from './stack';

// The HTTP layer against the real processes: vault-dev mints (or refuses) caller tokens, the
// four services check them. Nothing here goes around the guard.
jest.setTimeout(240_000);

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.stop();
});

const concrete = (path: string) =>
  path.replace(
    ':id',
    path.startsWith('/payments') ? `pay_${'x'.repeat(24)}` : `ref_${'x'.repeat(24)}`,
  );

async function send(service: ServiceName, route: { method: string; path: string }, token?: string) {
  const res = await fetch(`${stack.services[service].url}${concrete(route.path)}`, {
    method: route.method,
    headers: {
      'content-type': 'application/json',
      'idempotency-key': `intruder-${randomUUID()}`,
      ...(token ? { authorization: `Bearer ${token}` } : {}),
    },
    body: route.method === 'GET' ? undefined : JSON.stringify({ amount: 4242, currency: 'EUR' }),
  });
  const body = (await res.json()) as { error?: { code?: string } };
  return {
    status: res.status,
    code: body.error?.code,
    challenge: res.headers.get('www-authenticate'),
  };
}

/** Logs a service's own AppRole in (as a compromised service would) and returns its token. */
async function serviceVaultToken(service: ServiceName): Promise<string> {
  const root = { 'x-vault-token': stack.vault.rootToken };
  const v = async (path: string, init: RequestInit = {}) =>
    (await (await fetch(`${stack.vault.addr}/v1/${path}`, init)).json()) as {
      data: Record<string, string>;
      auth: { client_token: string };
    };
  const roleId = (await v(`auth/approle/role/${service}/role-id`, { headers: root })).data.role_id;
  const secretId = (
    await v(`auth/approle/role/${service}/secret-id`, { method: 'POST', headers: root })
  ).data.secret_id;
  return (
    await v('auth/approle/login', {
      method: 'POST',
      body: JSON.stringify({ role_id: roleId, secret_id: secretId }),
    })
  ).auth.client_token;
}

describe('callers over HTTP: every route of every service answers only its declared callers', () => {
  it('refuses every route to a process without a granted identity, and nothing is enqueued or charged', async () => {
    const before = {
      payments: await queuedJobs(stack, 'payments'),
      refunds: await queuedJobs(stack, 'refunds'),
      charges: (await stack.sandbox.admin.ledger()).payments.length,
      refundsAtProvider: (await stack.sandbox.admin.ledger()).refunds.length,
    };
    const { privateKey } = await generateKeyPair('RS256');
    const outcomes: { what: string; status: number; code?: string }[] = [];
    for (const service of SERVICE_NAMES) {
      // a compromised service's own identity: Vault mints it no caller token, for any role
      const vaultToken = await serviceVaultToken(service);
      for (const target of SERVICE_NAMES)
        for (const caller of CALLER_NAMES.filter((c) => servicesCalledBy(c).includes(target))) {
          const minted = await fetch(
            `${stack.vault.addr}/v1/identity/oidc/token/${identityRoleName(caller, target)}`,
            { headers: { 'x-vault-token': vaultToken } },
          );
          outcomes.push({
            what: `${service} mints as ${caller} for ${target}`,
            status: minted.status,
          });
        }
      for (const route of callerRoutesOf(service)) {
        const forged = await new SignJWT({
          client_id: route.callers[0] ?? 'checkout',
          scope: route.scope,
        })
          .setProtectedHeader({ alg: 'RS256', kid: 'forged' })
          .setIssuer(`${stack.vault.addr}/v1/identity/oidc`)
          .setAudience(service)
          .setSubject(randomUUID())
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey);
        const none = await send(service, route);
        outcomes.push({ what: `${service} ${routeKey(route)} without a token`, ...none });
        expect(none.challenge).toBe(`Bearer realm="${service}"`);
        const self = await send(service, route, forged);
        outcomes.push({ what: `${service} ${routeKey(route)} self-signed`, ...self });
        // a real caller token for another audience (each caller's own service)
        for (const caller of CALLER_NAMES) {
          const elsewhere = servicesCalledBy(caller).find((s) => s !== service);
          if (!elsewhere) continue;
          const other = await send(
            service,
            route,
            await stack.callers[caller].tokens.token(elsewhere),
          );
          outcomes.push({
            what: `${service} ${routeKey(route)} ${caller}'s ${elsewhere} token`,
            ...other,
          });
        }
        // a real caller token for this service, from a caller the route does not grant
        for (const caller of CALLER_NAMES.filter(
          (c) => servicesCalledBy(c).includes(service) && !route.callers.includes(c),
        )) {
          const wrong = await send(
            service,
            route,
            await stack.callers[caller].tokens.token(service),
          );
          outcomes.push({ what: `${service} ${routeKey(route)} as ${caller}`, ...wrong });
        }
      }
    }
    const expected = outcomes.map((o) => ({
      what: o.what,
      refused: o.what.includes(' mints as ')
        ? o.status === 403
        : o.status === 401 || o.status === 403,
    }));
    expect(expected.filter((o) => !o.refused)).toEqual([]);
    expect(outcomes.length).toBeGreaterThan(30);
    expect(outcomes.filter((o) => o.what.endsWith('without a token')).map((o) => o.code)).toEqual(
      expect.arrayContaining(['missing_token']),
    );
    // nothing reached a queue or the provider
    expect(await queuedJobs(stack, 'payments')).toEqual(before.payments);
    expect(await queuedJobs(stack, 'refunds')).toEqual(before.refunds);
    const ledger = await stack.sandbox.admin.ledger();
    expect({ charges: ledger.payments.length, refunds: ledger.refunds.length }).toEqual({
      charges: before.charges,
      refunds: before.refundsAtProvider,
    });
  });

  it('refuses unsigned provider webhooks (signature, not caller tokens), and serves health openly', async () => {
    const webhook = routesOf('webhook-service').find((r) => 'signedBy' in r)!;
    const res = await send('webhook-service', webhook);
    expect(res.status).toBe(401);
    for (const service of SERVICE_NAMES)
      expect((await fetch(`${stack.services[service].url}/health/live`)).status).toBe(200);
  });

  it('lets each declared caller call its routes (positive controls)', async () => {
    const accepted = (route: CallerRoute, status: number) =>
      route.method === 'GET' ? status === 200 || status === 404 : status === 202 || status === 400;
    for (const service of SERVICE_NAMES)
      for (const route of callerRoutesOf(service))
        for (const caller of route.callers) {
          const res = await send(service, route, await stack.callers[caller].tokens.token(service));
          expect({
            service,
            route: routeKey(route),
            caller,
            ok: accepted(route, res.status),
          }).toEqual({
            service,
            route: routeKey(route),
            caller,
            ok: true,
          });
        }
  });
});
