import { z } from 'zod';
import { ConfigError, loadConfig, setting } from '@lpi/service-bootstrap';

export const readVaultDevConfig = (env: Record<string, string | undefined> = process.env) => {
  const config = loadConfig(
    'vault-dev',
    {
      VAULT_DEV_PORT: setting.port(8200),
      VAULT_DEV_HOST: z.string().default('127.0.0.1'),
      VAULT_DEV_ROOT_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
      VAULT_DEV_PRINT_ROOT_TOKEN: setting.bool(false),
      /** Test runs: fingerprints of every issued secret go here (the run-wide log scan). */
      VAULT_DEV_ISSUED_SECRETS_FILE: z.string().optional(),
      /** Serve HTTPS with this PEM certificate (chain) and PKCS#8 key: both or neither. */
      VAULT_DEV_TLS_CERT_FILE: z.string().min(1).optional(),
      VAULT_DEV_TLS_KEY_FILE: z.string().min(1).optional(),
      /** Vault's `api_addr` (the identity tokens' issuer); default: the listen address. */
      VAULT_DEV_API_ADDR: z.string().url().optional(),
    },
    env,
  );
  if (!config.VAULT_DEV_TLS_CERT_FILE !== !config.VAULT_DEV_TLS_KEY_FILE)
    throw new ConfigError('vault-dev', [
      {
        setting: config.VAULT_DEV_TLS_CERT_FILE
          ? 'VAULT_DEV_TLS_KEY_FILE'
          : 'VAULT_DEV_TLS_CERT_FILE',
        problem: 'is required when the other TLS file is set',
      },
    ]);
  return config;
};
