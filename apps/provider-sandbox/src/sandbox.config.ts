import { readFileSync } from 'node:fs';
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
  SANDBOX_ADMIN_TOKEN: z.string().min(32, 'must be at least 32 characters'),
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
  const issuer = `https://${c.SANDBOX_PUBLIC_HOST}:${c.SANDBOX_AS_PORT}`;
  const apiBaseUrl = `https://${c.SANDBOX_PUBLIC_HOST}:${c.SANDBOX_API_PORT}`;
  return {
    ...c,
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
