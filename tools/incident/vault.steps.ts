// The Vault side of an incident, on Vault's documented API: find every token of the service
// by accessor and revoke it, destroy every secret-id of its AppRole, write the rotated
// secret as a new KV v2 version, and issue a new wrapped secret-id.
import { secretDataPathOf, type ServiceName } from '@lpi/access-matrix';
import { vaultCall } from '@lpi/secrets';
import { IncidentError, type VaultPort } from './ports';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** One call through the secrets library's Vault client (its TLS trust included). */
async function call(
  v: VaultPort,
  method: string,
  path: string,
  body?: unknown,
  wrapTtl?: string,
): Promise<{ status: number; json: Json }> {
  const res = await vaultCall({ addr: v.addr, ca: v.ca }, method, path, {
    token: v.token,
    body,
    wrapTtl,
  });
  return { status: res.status, json: res.body as Json };
}

async function must(
  v: VaultPort,
  what: string,
  method: string,
  path: string,
  body?: unknown,
  wrapTtl?: string,
): Promise<Json> {
  const res = await call(v, method, path, body, wrapTtl);
  if (res.status >= 300) {
    const errors = Array.isArray(res.json.errors) ? res.json.errors.join('; ') : '';
    throw new IncidentError(
      'vault_refused',
      `Vault refused to ${what} (HTTP ${res.status}${errors ? `: ${errors}` : ''})`,
    );
  }
  return res.json;
}

/** A token belongs to the service when its policies or its login metadata name it. */
export function tokenBelongsTo(service: ServiceName, data: Json): boolean {
  const policies: string[] = Array.isArray(data.policies) ? data.policies : [];
  if (policies.includes('root')) return false;
  const meta: Record<string, string> = data.meta ?? {};
  return (
    policies.includes(service) ||
    meta.role_name === service ||
    (meta.role === service && String(data.path ?? '').startsWith('auth/kubernetes/'))
  );
}

/** Revokes every token of the service (and with it, its children and leases). */
export async function revokeServiceTokens(v: VaultPort, service: ServiceName): Promise<number> {
  const own = await must(v, 'look up its own token', 'GET', 'auth/token/lookup-self');
  const list = await must(v, 'list token accessors', 'GET', 'auth/token/accessors?list=true');
  const accessors: string[] = list.data?.keys ?? [];
  let revoked = 0;
  for (const accessor of accessors) {
    if (accessor === own.data?.accessor) continue;
    const info = await call(v, 'POST', 'auth/token/lookup-accessor', { accessor });
    // gone between the list and the lookup (expired, revoked as a child): nothing to do
    if (info.status >= 400 || !tokenBelongsTo(service, info.json.data ?? {})) continue;
    await must(v, 'revoke a token by accessor', 'POST', 'auth/token/revoke-accessor', {
      accessor,
    });
    revoked += 1;
  }
  return revoked;
}

/** Destroys every secret-id of the service's AppRole, used or not (wrapped ones included). */
export async function destroySecretIds(v: VaultPort, service: ServiceName): Promise<number> {
  const res = await call(v, 'GET', `auth/approle/role/${service}/secret-id?list=true`);
  if (res.status === 404) return 0; // none outstanding
  if (res.status >= 300)
    throw new IncidentError(
      'vault_refused',
      `Vault refused to list secret-ids (HTTP ${res.status})`,
    );
  const accessors: string[] = res.json.data?.keys ?? [];
  for (const accessor of accessors)
    await must(
      v,
      'destroy a secret-id',
      'POST',
      `auth/approle/role/${service}/secret-id-accessor/destroy`,
      { secret_id_accessor: accessor },
    );
  return accessors.length;
}

export async function readSecret(
  v: VaultPort,
  service: ServiceName,
): Promise<Record<string, string>> {
  const json = await must(v, 'read the service secret', 'GET', secretDataPathOf(service));
  return json.data.data as Record<string, string>;
}

export async function writeSecret(
  v: VaultPort,
  service: ServiceName,
  data: Record<string, string>,
): Promise<number> {
  const json = await must(v, 'write the new secret version', 'POST', secretDataPathOf(service), {
    data,
  });
  return json.data?.version as number;
}

/** A new single-use secret-id, response-wrapped: what the restarted service unwraps. */
export async function newWrappedSecretId(v: VaultPort, service: ServiceName): Promise<string> {
  const json = await must(
    v,
    'issue a wrapped secret-id',
    'POST',
    `auth/approle/role/${service}/secret-id`,
    {},
    '10m',
  );
  const token = json.wrap_info?.token as string | undefined;
  if (!token) throw new IncidentError('vault_no_wrap', 'Vault answered without a wrapped token');
  return token;
}
