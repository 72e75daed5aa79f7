import { Agent, fetch as undiciFetch } from 'undici';
import { SecretsError } from './errors';

/**
 * Where Vault is and whom to trust for its TLS certificate. With `ca` (VAULT_CACERT's
 * contents) only that bundle is trusted; without it, the system's roots.
 */
export interface VaultEndpoint {
  readonly addr: string;
  readonly ca?: string;
}

const agents = new WeakMap<VaultEndpoint, Agent>();
function dispatcherFor(endpoint: VaultEndpoint): Agent | undefined {
  if (!endpoint.ca) return undefined;
  let agent = agents.get(endpoint);
  if (!agent) {
    agent = new Agent({ connect: { ca: endpoint.ca } });
    agents.set(endpoint, agent);
  }
  return agent;
}

const TLS_FAILURE = /CERT|SIGNATURE|TLS|SSL|ISSUER/;

/** Why a request never got an answer, named well enough to act on (never a secret). */
function unreachable(addr: string, method: string, path: string, err: unknown): SecretsError {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } })?.cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  if (code && TLS_FAILURE.test(code))
    return new SecretsError(
      'VAULT_TLS_UNTRUSTED',
      `Vault at ${addr} presented a TLS certificate this service does not trust (${code}); set VAULT_CACERT to the CA bundle that signs Vault's certificate`,
    );
  const why =
    (err as { name?: string })?.name === 'TimeoutError' ? 'timed out' : (code ?? 'no answer');
  return new SecretsError(
    'VAULT_UNREACHABLE',
    `Vault at ${addr} did not answer (${method} ${path}: ${why}); check VAULT_ADDR and the network`,
  );
}

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
    /** a leased secret's lease (database credentials); empty for KV reads */
    lease_id?: string;
    lease_duration?: number;
    renewable?: boolean;
    errors?: string[];
    warnings?: string[] | null;
  };
}

/** One Vault API call. Errors are mapped to codes; Vault's error text is kept, tokens never. */
export async function vaultCall(
  endpoint: string | VaultEndpoint,
  method: string,
  path: string,
  {
    token,
    body,
    wrapTtl,
    timeoutMs = 5000,
  }: { token?: string; body?: unknown; wrapTtl?: string; timeoutMs?: number } = {},
): Promise<VaultResponse> {
  const vault = typeof endpoint === 'string' ? { addr: endpoint } : endpoint;
  const addr = vault.addr;
  let res: Awaited<ReturnType<typeof undiciFetch>>;
  try {
    res = await undiciFetch(`${addr.replace(/\/$/, '')}/v1/${path}`, {
      method,
      dispatcher: dispatcherFor(vault),
      headers: {
        'X-Vault-Request': 'true',
        ...(token ? { 'X-Vault-Token': token } : {}),
        ...(wrapTtl ? { 'X-Vault-Wrap-TTL': wrapTtl } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (err) {
    throw unreachable(addr, method, path, err);
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
