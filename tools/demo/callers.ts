// The declared callers (checkout, support-console, finance-dashboard) as the demo, the tests
// and the benchmarks play them: each logs in to Vault with its own AppRole (role-id and a
// single-use wrapped secret-id from the bootstrap), mints tokens for the services it calls
// through @lpi/auth's CallerTokenSource, and sends them. No bypass: a caller the matrix does
// not grant a route gets the service's 401/403 like anyone else.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CALLER_NAMES, type CallerName, type ServiceName } from '@lpi/access-matrix';
import { CallerTokenSource } from '@lpi/auth';

export interface CallerIdentity {
  roleId: string;
  wrappedSecretId: string;
}

/** Unwraps the secret-id (single use) and logs in: the caller's own Vault token. */
export async function loginCaller(vaultAddr: string, identity: CallerIdentity): Promise<string> {
  const unwrap = await fetch(`${vaultAddr}/v1/sys/wrapping/unwrap`, {
    method: 'POST',
    headers: { 'x-vault-token': identity.wrappedSecretId },
  });
  if (unwrap.status !== 200)
    throw new Error(`caller login: the wrapped secret-id was refused (HTTP ${unwrap.status})`);
  const secretId = ((await unwrap.json()) as { data: { secret_id: string } }).data.secret_id;
  const login = await fetch(`${vaultAddr}/v1/auth/approle/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ role_id: identity.roleId, secret_id: secretId }),
  });
  if (login.status !== 200) throw new Error(`caller login refused (HTTP ${login.status})`);
  return ((await login.json()) as { auth: { client_token: string } }).auth.client_token;
}

export const readCallerIdentity = (dir: string, caller: CallerName): CallerIdentity => ({
  roleId: readFileSync(join(dir, caller, 'role-id'), 'utf8').trim(),
  wrappedSecretId: readFileSync(join(dir, caller, 'wrapped-secret-id'), 'utf8').trim(),
});

/** One logged-in caller: its token source and a fetch that presents its token. */
export class Caller {
  constructor(
    readonly name: CallerName,
    readonly tokens: CallerTokenSource,
    private readonly urls: Record<ServiceName, string>,
  ) {}

  async fetch(service: ServiceName, path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', await this.tokens.authorization(service));
    return fetch(`${this.urls[service]}${path}`, { ...init, headers });
  }

  /** The same caller, sending one service's requests to another process of it (a replica). */
  at(service: ServiceName, url: string): Caller {
    return new Caller(this.name, this.tokens, { ...this.urls, [service]: url });
  }

  post(service: ServiceName, path: string, idempotencyKey: string, body: unknown) {
    return this.fetch(service, path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
      body: JSON.stringify(body),
    });
  }
}

export type Callers = Record<CallerName, Caller>;

/** Logs every declared caller in with its own identity. */
export async function loginCallers(
  vaultAddr: string,
  identities: Record<CallerName, CallerIdentity>,
  urls: Record<ServiceName, string>,
): Promise<Callers> {
  const entries = await Promise.all(
    CALLER_NAMES.map(async (caller) => {
      const vaultToken = await loginCaller(vaultAddr, identities[caller]);
      const tokens = new CallerTokenSource({ vaultAddr, caller, vaultToken: () => vaultToken });
      return [caller, new Caller(caller, tokens, urls)] as const;
    }),
  );
  return Object.fromEntries(entries) as Callers;
}
