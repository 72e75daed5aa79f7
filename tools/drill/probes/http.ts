// Inbound HTTP (issue 15): every route of every other service, from the compromised
// service's position. Expected outcomes come from the access matrix's route grants: the
// services are never callers, so everything they try is refused; each declared caller,
// with its own Vault identity, is the positive control.
import {
  CALLER_NAMES,
  SERVICE_NAMES,
  callerRoutesOf,
  callerScopesFor,
  callersOf,
  identityRoleName,
  isCallerName,
  servicesCalledBy,
  type CallerName,
  type CallerRoute,
  type ServiceName,
} from '@lpi/access-matrix';
import type { Stack } from '../../demo/stack';
import { vaultCall, type Json } from '../clients';
import { allowed, denied, httpOutcome } from '../rows';
import type { Probe, ProbeContext } from './context';

/** A caller's own Vault token: the operator gives its AppRole a fresh secret-id, it logs in. */
async function callerVaultToken(s: Stack, caller: CallerName): Promise<string> {
  const root = s.vault.rootToken;
  const rid = await vaultCall(s.vault.addr, 'GET', `auth/approle/role/${caller}/role-id`, root);
  const sid = await vaultCall(s.vault.addr, 'POST', `auth/approle/role/${caller}/secret-id`, root);
  const login = await vaultCall(s.vault.addr, 'POST', 'auth/approle/login', undefined, {
    role_id: rid.json.data.role_id,
    secret_id: sid.json.data.secret_id,
  });
  return login.json.auth.client_token as string;
}

async function mint(s: Stack, vaultToken: string, role: string) {
  return vaultCall(s.vault.addr, 'GET', `identity/oidc/token/${role}`, vaultToken);
}

/** Caller tokens minted once per drill: `${caller} ${service}` -> token. */
export interface CallerTokens {
  live: Map<string, string>;
  expired: Map<string, string>;
}

const key = (caller: CallerName, service: ServiceName) => `${caller} ${service}`;

/**
 * Every granted (caller, service) token, and an expired one each: the role's ttl is set to
 * one second by the operator, a token minted, the ttl restored, and the guard's leeway
 * waited out once for all of them.
 */
export async function mintCallerTokens(s: Stack): Promise<CallerTokens> {
  const live = new Map<string, string>();
  const expired = new Map<string, string>();
  const root = s.vault.rootToken;
  for (const caller of CALLER_NAMES) {
    const vt = await callerVaultToken(s, caller);
    const token = async (role: string) => (await mint(s, vt, role)).json.data?.token as string;
    for (const service of servicesCalledBy(caller)) {
      const role = identityRoleName(caller, service);
      live.set(key(caller, service), await token(role));
      const path = `identity/oidc/role/${role}`;
      const current = (await vaultCall(s.vault.addr, 'GET', path, root)).json.data as Json;
      await vaultCall(s.vault.addr, 'POST', path, root, { ...current, ttl: 1 });
      expired.set(key(caller, service), await token(role));
      await vaultCall(s.vault.addr, 'POST', path, root, current);
    }
  }
  // past the token's exp and the guard's leeway
  await new Promise((r) => setTimeout(r, 12_000));
  return { live, expired };
}

const concrete = (path: string) => path.replace(/:[a-z_]+/g, 'drill_missing');

async function callRoute(s: Stack, target: ServiceName, route: CallerRoute, token?: string) {
  const res = await fetch(`${s.services[target].url}${concrete(route.path)}`, {
    method: route.method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(route.method === 'POST'
        ? { 'content-type': 'application/json', 'idempotency-key': `drill-http-${Date.now()}` }
        : {}),
    },
    // a body that fails validation: a call that gets past the guard answers 400, not 2xx
    body: route.method === 'POST' ? JSON.stringify({ drill: true }) : undefined,
  }).catch(() => undefined);
  const json = (await res?.json().catch(() => undefined)) as
    { error?: { code?: string } } | undefined;
  return { status: res?.status ?? 0, code: json?.error?.code };
}

/** Past the guard = anything but its 401/403 (a 400 or 404 from the route itself). */
const guardOutcome = (r: { status: number; code?: string }) =>
  r.status === 401 || r.status === 403 || r.status === 0
    ? denied(`${r.status}${r.code ? ` ${r.code}` : ''}`)
    : allowed(`${r.status}${r.code ? ` ${r.code}` : ''}, past the guard`);

export function httpProbeWith(tokens: () => Promise<CallerTokens>): Probe {
  return async (ctx: ProbeContext, service) => {
    const s = ctx.stack;
    const row = ctx.rows.for(service, 'http');
    const t = await tokens();
    const mayCall = (target: ServiceName, route: CallerRoute) =>
      isCallerName(service) && callersOf(target, route).includes(service);
    for (const target of SERVICE_NAMES.filter((x) => x !== service)) {
      // its own Vault identity, every role that mints for this audience
      const minted = await Promise.all(
        CALLER_NAMES.map((c) => mint(s, ctx.loot[service].vaultToken, identityRoleName(c, target))),
      );
      const got = minted.find((m) => m.status < 300);
      row(
        `mint a caller token for ${target} with own Vault identity`,
        isCallerName(service) && servicesCalledBy(service).includes(target) ? 'allow' : 'deny',
        got ? allowed(String(got.status)) : httpOutcome(minted[0].status),
      );
      for (const route of callerRoutesOf(target)) {
        const name = `${route.method} ${target}${route.path}`;
        const expected = mayCall(target, route) ? 'allow' : 'deny';
        row(`${name} without a token`, expected, guardOutcome(await callRoute(s, target, route)));
        const caller = callersOf(target, route)[0];
        const elsewhere = CALLER_NAMES.flatMap((c) =>
          servicesCalledBy(c)
            .filter((x) => x !== target)
            .map((x) => t.live.get(key(c, x))!),
        )[0];
        if (elsewhere)
          row(
            `${name} with a caller token for another audience`,
            'deny',
            guardOutcome(await callRoute(s, target, route, elsewhere)),
          );
        if (caller)
          row(
            `${name} with ${caller}'s expired token`,
            'deny',
            guardOutcome(await callRoute(s, target, route, t.expired.get(key(caller, target)))),
          );
        for (const other of CALLER_NAMES.filter(
          (c) => !callersOf(target, route).includes(c) && callerScopesFor(c, target).length > 0,
        ))
          row(
            `${name} with ${other}'s token (scopes ${callerScopesFor(other, target).join(' ')})`,
            'deny',
            guardOutcome(await callRoute(s, target, route, t.live.get(key(other, target)))),
          );
        for (const c of callersOf(target, route))
          row(
            `${name} as ${c}, a declared caller (control)`,
            'allow',
            guardOutcome(await callRoute(s, target, route, t.live.get(key(c, target)))),
          );
      }
    }
  };
}
