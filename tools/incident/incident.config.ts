// `npm run incident` settings: environment variables, or the same names as keys of the JSON
// file INCIDENT_CONFIG_FILE (the environment wins). Credentials are read from files that
// must be mode 0600; a value is never echoed. See docs/configuration.md.
import { readFileSync, statSync } from 'node:fs';
import { z } from 'zod';
import { loadConfig, setting } from '@lpi/service-bootstrap';

export interface IncidentConfig {
  vaultAddr: string;
  /** VAULT_CACERT contents, when Vault is served by a private CA. */
  vaultCa?: string;
  vaultToken: string;
  providerAdminUrl: string;
  providerAdminToken: string;
  providerCa: string;
  redis: { host: string; port: number; username: string; password: string };
  ca: { cert: string; key: string };
  platform: 'local' | 'compose' | 'kubernetes';
  identityDir?: string;
  k8sNamespace: string;
}

export class IncidentConfigError extends Error {
  readonly code = 'INCIDENT_CONFIG_INVALID';
}

/** The file's content, refusing one that group or others may read. */
export function readPrivateFile(setting: string, path: string): string {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch {
    throw new IncidentConfigError(`${setting}: the file cannot be read`);
  }
  if ((mode & 0o077) !== 0)
    throw new IncidentConfigError(
      `${setting}: the file is readable by group or others (chmod 600 it)`,
    );
  return readFileSync(path, 'utf8').trim();
}

export function readIncidentConfig(
  env: Record<string, string | undefined> = process.env,
): IncidentConfig {
  const fromFile = env.INCIDENT_CONFIG_FILE
    ? (JSON.parse(readFileSync(env.INCIDENT_CONFIG_FILE, 'utf8')) as Record<string, string>)
    : {};
  const c = loadConfig(
    'incident',
    {
      VAULT_ADDR: setting.url(),
      VAULT_CACERT: z.string().optional(),
      INCIDENT_VAULT_TOKEN_FILE: setting.file(),
      PROVIDER_ADMIN_URL: setting.url(),
      INCIDENT_PROVIDER_ADMIN_TOKEN_FILE: setting.file(),
      PROVIDER_CA_FILE: setting.file(),
      REDIS_HOST: setting.nonEmpty().default('127.0.0.1'),
      REDIS_PORT: setting.port(6379),
      INCIDENT_REDIS_ADMIN_USER: setting.nonEmpty().default('ops-admin'),
      INCIDENT_REDIS_ADMIN_PASSWORD_FILE: setting.file(),
      INCIDENT_CA_CERT_FILE: setting.file(),
      INCIDENT_CA_KEY_FILE: setting.file(),
      INCIDENT_PLATFORM: z.enum(['local', 'compose', 'kubernetes']).default('local'),
      INCIDENT_IDENTITY_DIR: z.string().optional(),
      INCIDENT_K8S_NAMESPACE: setting.nonEmpty().default('lpi'),
    },
    { ...fromFile, ...env },
  );
  return {
    vaultAddr: c.VAULT_ADDR.replace(/\/$/, ''),
    vaultCa: c.VAULT_CACERT ? readFileSync(c.VAULT_CACERT, 'utf8') : undefined,
    vaultToken: readPrivateFile('INCIDENT_VAULT_TOKEN_FILE', c.INCIDENT_VAULT_TOKEN_FILE),
    providerAdminUrl: c.PROVIDER_ADMIN_URL.replace(/\/$/, ''),
    providerAdminToken: readPrivateFile(
      'INCIDENT_PROVIDER_ADMIN_TOKEN_FILE',
      c.INCIDENT_PROVIDER_ADMIN_TOKEN_FILE,
    ),
    providerCa: readFileSync(c.PROVIDER_CA_FILE, 'utf8'),
    redis: {
      host: c.REDIS_HOST,
      port: c.REDIS_PORT,
      username: c.INCIDENT_REDIS_ADMIN_USER,
      password: readPrivateFile(
        'INCIDENT_REDIS_ADMIN_PASSWORD_FILE',
        c.INCIDENT_REDIS_ADMIN_PASSWORD_FILE,
      ),
    },
    ca: {
      cert: readFileSync(c.INCIDENT_CA_CERT_FILE, 'utf8'),
      key: readPrivateFile('INCIDENT_CA_KEY_FILE', c.INCIDENT_CA_KEY_FILE),
    },
    platform: c.INCIDENT_PLATFORM,
    identityDir: c.INCIDENT_IDENTITY_DIR,
    k8sNamespace: c.INCIDENT_K8S_NAMESPACE,
  };
}
