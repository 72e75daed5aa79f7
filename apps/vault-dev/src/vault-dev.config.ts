import { z } from 'zod';
import { loadConfig, setting } from '@lpi/service-bootstrap';

export const readVaultDevConfig = (env: Record<string, string | undefined> = process.env) =>
  loadConfig(
    'vault-dev',
    {
      VAULT_DEV_PORT: setting.port(8200),
      VAULT_DEV_HOST: z.string().default('127.0.0.1'),
      VAULT_DEV_ROOT_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
      VAULT_DEV_PRINT_ROOT_TOKEN: setting.bool(false),
      /** Test runs: fingerprints of every issued secret go here (the run-wide log scan). */
      VAULT_DEV_ISSUED_SECRETS_FILE: z.string().optional(),
    },
    env,
  );
