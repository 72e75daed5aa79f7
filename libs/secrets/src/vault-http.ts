import { SecretsError } from './errors';

export interface VaultResponse {
  status: number;
  body: {
    data?: Record<string, unknown> | null;
    auth?: {
      client_token: string;
      lease_duration: number;
      renewable: boolean;
      policies: string[];
    } | null;
    wrap_info?: { token: string; creation_path: string } | null;
    errors?: string[];
    warnings?: string[] | null;
  };
}

/** One Vault API call. Errors are mapped to codes; Vault's error text is kept, tokens never. */
export async function vaultCall(
  addr: string,
  method: string,
  path: string,
  {
    token,
    body,
    wrapTtl,
    timeoutMs = 5000,
  }: { token?: string; body?: unknown; wrapTtl?: string; timeoutMs?: number } = {},
): Promise<VaultResponse> {
  let res: Response;
  try {
    res = await fetch(`${addr.replace(/\/$/, '')}/v1/${path}`, {
      method,
      headers: {
        'X-Vault-Request': 'true',
        ...(token ? { 'X-Vault-Token': token } : {}),
        ...(wrapTtl ? { 'X-Vault-Wrap-TTL': wrapTtl } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch {
    throw new SecretsError(
      'VAULT_UNREACHABLE',
      `Vault at ${addr} did not answer (${method} ${path}); check VAULT_ADDR and the network`,
    );
  }
  const text = await res.text();
  let parsed: VaultResponse['body'] = {};
  try {
    parsed = text ? (JSON.parse(text) as VaultResponse['body']) : {};
  } catch {
    throw new SecretsError(
      'VAULT_ERROR',
      `Vault answered ${res.status} with a body that is not JSON (${method} ${path})`,
    );
  }
  return { status: res.status, body: parsed };
}

export function describeErrors(res: VaultResponse): string {
  return (
    (res.body.errors ?? []).map((e) => e.replace(/\s+/g, ' ').trim()).join('; ') ||
    `HTTP ${res.status}`
  );
}
