import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { loadConfig, setting } from '@lpi/service-bootstrap';

const shape = {
  SANDBOX_AS_PORT: setting.port(),
  SANDBOX_API_PORT: setting.port(),
  SANDBOX_HOST: z.string().default('127.0.0.1'),
  SANDBOX_PUBLIC_HOST: z.string().default('localhost'),
  SANDBOX_TLS_CERT_FILE: setting.file(),
  SANDBOX_TLS_KEY_FILE: setting.file(),
  SANDBOX_CLIENT_CA_FILE: setting.file(),
  /** The admin API credential, in a file only its owner can read (not in the environment). */
  SANDBOX_ADMIN_TOKEN_FILE: z.string().min(1).optional(),
  /** Deprecated: the environment is readable by anyone who can inspect the process. */
  SANDBOX_ADMIN_TOKEN: z.string().min(32, 'must be at least 32 characters').optional(),
  SANDBOX_TOKEN_TTL_SECONDS: setting.positiveInt(900),
  SANDBOX_REFRESH_TOKEN_TTL_SECONDS: setting.positiveInt(86_400),
  SANDBOX_RATE_LIMIT_PER_MINUTE: setting.positiveInt(50),
  SANDBOX_WEBHOOK_RETRY_BASE_MS: setting.positiveInt(1000),
  LOG_LEVEL: setting.logLevel(),
  /** Test runs: fingerprints of every issued secret and token go here (the run-wide log scan). */
  SANDBOX_ISSUED_SECRETS_FILE: z.string().optional(),
};

export type SandboxConfig = ReturnType<typeof readSandboxConfig>;

export function readSandboxConfig(env: Record<string, string | undefined> = process.env) {
  const c = loadConfig('provider-sandbox', shape, env);
  const read = (setting: string, file: string) => {
    try {
      return readFileSync(file, 'utf8');
    } catch {
      throw new Error(`provider-sandbox: ${setting} points at a file that cannot be read`);
    }
  };
  const adminToken = readAdminToken(c.SANDBOX_ADMIN_TOKEN_FILE, c.SANDBOX_ADMIN_TOKEN);
  const issuer = `https://${c.SANDBOX_PUBLIC_HOST}:${c.SANDBOX_AS_PORT}`;
  const apiBaseUrl = `https://${c.SANDBOX_PUBLIC_HOST}:${c.SANDBOX_API_PORT}`;
  return {
    ...c,
    SANDBOX_ADMIN_TOKEN: adminToken.token,
    adminTokenFromEnvironment: adminToken.fromEnvironment,
    issuer,
    apiBaseUrl,
    audience: `${apiBaseUrl}/v1`,
    tls: {
      cert: read('SANDBOX_TLS_CERT_FILE', c.SANDBOX_TLS_CERT_FILE),
      key: read('SANDBOX_TLS_KEY_FILE', c.SANDBOX_TLS_KEY_FILE),
      ca: read('SANDBOX_CLIENT_CA_FILE', c.SANDBOX_CLIENT_CA_FILE),
    },
  };
}

function readAdminToken(
  file: string | undefined,
  fromEnv: string | undefined,
): { token: string; fromEnvironment: boolean } {
  const fail = (why: string) => new Error(`provider-sandbox: ${why}`);
  if (file && fromEnv) throw fail('set SANDBOX_ADMIN_TOKEN_FILE or SANDBOX_ADMIN_TOKEN, not both');
  if (!file) {
    if (!fromEnv) throw fail('SANDBOX_ADMIN_TOKEN_FILE is required');
    return { token: fromEnv, fromEnvironment: true };
  }
  let token: string;
  try {
    // group read is allowed: a Kubernetes Secret volume with fsGroup grants the pod's own
    // group read; writable by the group or open to others is refused
    if ((statSync(file).mode & 0o027) !== 0)
      throw fail(
        'SANDBOX_ADMIN_TOKEN_FILE must not be writable by its group nor readable by others (chmod 600 or 640)',
      );
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    if (err instanceof Error && err.message.startsWith('provider-sandbox:')) throw err;
    throw fail('SANDBOX_ADMIN_TOKEN_FILE points at a file that cannot be read');
  }
  if (token.length < 32)
    throw fail('the admin token in SANDBOX_ADMIN_TOKEN_FILE is shorter than 32 characters');
  return { token, fromEnvironment: false };
}
