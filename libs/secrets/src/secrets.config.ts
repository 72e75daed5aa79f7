import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ServiceName } from '@lpi/access-matrix';
import { loadConfig, setting } from '@lpi/service-bootstrap';
import type { SecretsClientOptions, VaultIdentity } from './secrets.client';

const secretsSettings = {
  VAULT_ADDR: setting.url(),
  /** PEM bundle of the CA that signs Vault's TLS certificate (a private CA). */
  VAULT_CACERT: z.string().optional(),
  VAULT_AUTH_METHOD: z.enum(['approle', 'kubernetes', 'token']).default('approle'),
  VAULT_ROLE_ID_FILE: z.string().optional(),
  VAULT_WRAPPED_SECRET_ID_FILE: z.string().optional(),
  VAULT_K8S_ROLE: z.string().optional(),
  VAULT_K8S_TOKEN_FILE: z.string().default('/var/run/secrets/vault/token'),
  VAULT_TOKEN: z.string().optional(),
  VAULT_SECRET_POLL_MS: setting.positiveInt(5000),
};

/** The variables readSecretsConfig reads (start-up refuses others with the project prefixes). */
export const SECRETS_SETTING_NAMES: readonly string[] = Object.keys(secretsSettings);

/** The only settings a service needs to find its secrets; everything else comes from Vault. */
export function readSecretsConfig(
  service: ServiceName,
  env: Record<string, string | undefined> = process.env,
): SecretsClientOptions {
  const c = loadConfig(service, secretsSettings, env);
  const file = (name: string, path: string | undefined) => {
    if (!path)
      throw new Error(
        `${service}: ${name} is required when VAULT_AUTH_METHOD=${c.VAULT_AUTH_METHOD}`,
      );
    try {
      return readFileSync(path, 'utf8').trim();
    } catch {
      throw new Error(`${service}: ${name} points at a file that cannot be read`);
    }
  };
  let identity: VaultIdentity;
  if (c.VAULT_AUTH_METHOD === 'approle') {
    identity = {
      method: 'approle',
      roleId: file('VAULT_ROLE_ID_FILE', c.VAULT_ROLE_ID_FILE),
      wrappedSecretId: file('VAULT_WRAPPED_SECRET_ID_FILE', c.VAULT_WRAPPED_SECRET_ID_FILE),
    };
  } else if (c.VAULT_AUTH_METHOD === 'kubernetes') {
    identity = {
      method: 'kubernetes',
      role: c.VAULT_K8S_ROLE ?? service,
      jwtFile: c.VAULT_K8S_TOKEN_FILE,
    };
  } else {
    if (!c.VAULT_TOKEN)
      throw new Error(`${service}: VAULT_TOKEN is required when VAULT_AUTH_METHOD=token`);
    identity = { method: 'token', token: c.VAULT_TOKEN };
  }
  return {
    vaultAddr: c.VAULT_ADDR,
    vaultCaCert: c.VAULT_CACERT ? file('VAULT_CACERT', c.VAULT_CACERT) : undefined,
    service,
    identity,
    pollIntervalMs: c.VAULT_SECRET_POLL_MS,
  };
}
