/** Test helpers shared by the vault-dev conformance specs: real HTTP, raw Vault JSON. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Vault JSON bodies, asserted field by field
export type Json = Record<string, any>;

export interface VaultResponse {
  status: number;
  headers: Headers;
  body: Json;
}

export function vaultCaller(addr: () => string) {
  return async (
    method: string,
    path: string,
    token?: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<VaultResponse> => {
    const res = await fetch(`${addr()}/v1/${path}`, {
      method,
      headers: {
        ...(token ? { 'x-vault-token': token } : {}),
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return {
      status: res.status,
      headers: res.headers,
      body: (text ? JSON.parse(text) : undefined) as Json,
    };
  };
}

export type VaultCall = ReturnType<typeof vaultCaller>;

/** An AppRole role with the given policies, and a login through a fresh secret-id. */
export async function approleLogin(
  call: VaultCall,
  root: string,
  role: string,
  policies: string[],
): Promise<{ token: string; entityId: string; roleId: string; accessor: string }> {
  if ((await call('GET', `auth/approle/role/${role}`, root)).status === 404)
    await call('POST', `auth/approle/role/${role}`, root, { token_policies: policies });
  const roleId = (await call('GET', `auth/approle/role/${role}/role-id`, root)).body.data.role_id;
  const secretId = (await call('POST', `auth/approle/role/${role}/secret-id`, root)).body.data
    .secret_id;
  const login = await call('POST', 'auth/approle/login', undefined, {
    role_id: roleId,
    secret_id: secretId,
  });
  if (login.status !== 200) throw new Error(`login failed: ${login.status}`);
  return {
    token: login.body.auth.client_token,
    entityId: login.body.auth.entity_id,
    roleId,
    accessor: login.body.auth.accessor,
  };
}
