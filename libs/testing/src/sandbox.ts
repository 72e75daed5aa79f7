import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_NAMES } from '@lpi/access-matrix';
import { createDevPki, writeDevPki, type DevPki } from './dev-pki';
import { httpsCall, type HttpsResult } from './https-client';
import { freePort } from './ports';
import { issuedSecretsEnv, recordIssued } from './run-logs';
import { startTsProcess } from './ts-process';

export interface SandboxClientRegistration {
  scopes: string[];
  token_endpoint_auth_method:
    'client_secret_basic' | 'client_secret_post' | 'tls_client_auth' | 'private_key_jwt';
  jwks?: { keys: Record<string, string>[] };
  tls_client_auth_subject_dn?: string;
  /** x5t#S256 of the client's certificate; two (current and next) during a rotation. */
  tls_client_certificate_thumbprints?: string[];
  refresh_tokens?: boolean;
  certificate_bound?: boolean;
}

export interface SandboxFault {
  token_endpoint?: 'down' | 'up';
  api_status?: { status: 500 | 502 | 503 | 429; count: number };
  revoke_tokens_issued_before?: 'now';
  response_delay_ms?: number;
}

export interface SandboxAdmin {
  registerClient(
    clientId: string,
    reg: SandboxClientRegistration,
  ): Promise<{ client_id: string; client_secret?: string }>;
  rotateSecret(clientId: string): Promise<string>;
  retirePreviousSecret(clientId: string): Promise<void>;
  disableClient(clientId: string): Promise<void>;
  /** Every access and refresh token issued to the client so far stops working. */
  revokeClientTokens(clientId: string): Promise<void>;
  ledger(): Promise<{ payments: Record<string, unknown>[]; refunds: Record<string, unknown>[] }>;
  setFault(fault: SandboxFault): Promise<void>;
  clearFaults(): Promise<void>;
  webhookDeliveries(): Promise<Record<string, unknown>[]>;
  /** Access tokens issued so far, per client. */
  tokenCounts(): Promise<Record<string, number>>;
}

export interface SandboxHandle {
  issuer: string;
  tokenEndpoint: string;
  jwksUri: string;
  /** `https://localhost:<apiPort>`; the payments API is under `/v1`. */
  apiBaseUrl: string;
  audience: string;
  adminToken: string;
  caCert: string;
  pki: DevPki;
  admin: SandboxAdmin;
  logs(): string;
  /** The sandbox process id (memory checks in the edge tests). */
  pid(): number | undefined;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface StartSandboxOptions {
  pki?: DevPki;
  tokenTtlSeconds?: number;
  rateLimitPerMinute?: number;
  env?: Record<string, string>;
  logFile?: string;
}

/** Spawns the provider sandbox on free ports with a run-time PKI and waits until it serves. */
export async function startSandbox(options: StartSandboxOptions = {}): Promise<SandboxHandle> {
  const pki = options.pki ?? (await createDevPki(SERVICE_NAMES));
  const dir = mkdtempSync(join(tmpdir(), 'lpi-sandbox-'));
  const files = writeDevPki({ ...pki, clients: {} }, dir);
  const [asPort, apiPort] = [await freePort(), await freePort()];
  const adminToken = randomBytes(32).toString('base64url');
  recordIssued([adminToken]);
  // the admin credential goes to the sandbox as a 0600 file, never through its environment
  const adminTokenFile = join(dir, 'admin-token');
  writeFileSync(adminTokenFile, adminToken, { mode: 0o600 });
  const issuer = `https://localhost:${asPort}`;
  const apiBaseUrl = `https://localhost:${apiPort}`;

  const proc = await startTsProcess({
    name: 'provider-sandbox',
    entry: 'apps/provider-sandbox/src/main.ts',
    logFile: options.logFile,
    env: {
      SANDBOX_AS_PORT: String(asPort),
      SANDBOX_API_PORT: String(apiPort),
      SANDBOX_TLS_CERT_FILE: files['server.crt'],
      SANDBOX_TLS_KEY_FILE: files['server.key'],
      SANDBOX_CLIENT_CA_FILE: files['ca.crt'],
      SANDBOX_ADMIN_TOKEN_FILE: adminTokenFile,
      SANDBOX_TOKEN_TTL_SECONDS: String(options.tokenTtlSeconds ?? 900),
      SANDBOX_RATE_LIMIT_PER_MINUTE: String(options.rateLimitPerMinute ?? 50),
      SANDBOX_WEBHOOK_RETRY_BASE_MS: '200',
      ...issuedSecretsEnv('SANDBOX_ISSUED_SECRETS_FILE'),
      ...options.env,
    },
    ready: async () => {
      const [as, api] = await Promise.all([
        httpsCall(`${issuer}/.well-known/openid-configuration`, { ca: pki.caCert }),
        httpsCall(`${apiBaseUrl}/health/ready`, { ca: pki.caCert }),
      ]);
      return as.status === 200 && api.status === 200;
    },
  });

  const admin = async <T>(
    method: string,
    path: string,
    body?: unknown,
  ): Promise<HttpsResult<T>> => {
    const res = await httpsCall<T>(`${apiBaseUrl}/admin${path}`, {
      method,
      ca: pki.caCert,
      headers: {
        authorization: `Bearer ${adminToken}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (res.status >= 300)
      throw new Error(`sandbox admin ${method} ${path} answered ${res.status}: ${res.text}`);
    return res;
  };

  return {
    issuer,
    tokenEndpoint: `${issuer}/token`,
    jwksUri: `${issuer}/jwks`,
    apiBaseUrl,
    audience: `${apiBaseUrl}/v1`,
    adminToken,
    caCert: pki.caCert,
    pki,
    logs: () => proc.output(),
    pid: () => proc.pid,
    admin: {
      registerClient: async (id, reg) =>
        (await admin<{ client_id: string; client_secret?: string }>('PUT', `/clients/${id}`, reg))
          .json,
      rotateSecret: async (id) =>
        (await admin<{ client_secret: string }>('POST', `/clients/${id}/secrets`)).json
          .client_secret,
      retirePreviousSecret: async (id) =>
        void (await admin('DELETE', `/clients/${id}/secrets/previous`)),
      disableClient: async (id) => void (await admin('POST', `/clients/${id}/disable`)),
      revokeClientTokens: async (id) => void (await admin('POST', `/clients/${id}/revoke-tokens`)),
      ledger: async () =>
        (
          await admin<{ payments: Record<string, unknown>[]; refunds: Record<string, unknown>[] }>(
            'GET',
            '/ledger',
          )
        ).json,
      setFault: async (fault) => void (await admin('PUT', '/faults', fault)),
      clearFaults: async () => void (await admin('DELETE', '/faults')),
      tokenCounts: async () => (await admin<Record<string, number>>('GET', '/token-counts')).json,
      webhookDeliveries: async () =>
        (await admin<{ data: Record<string, unknown>[] }>('GET', '/webhook-deliveries')).json.data,
    },
    kill: (signal) => proc.kill(signal),
    restart: () => proc.restart(),
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
