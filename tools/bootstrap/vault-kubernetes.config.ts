import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { loadConfig, setting } from '@lpi/service-bootstrap';
import type { KubernetesAuthOptions } from './vault-kubernetes';

const readable = (name: string, path: string) => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    throw new Error(`vault-kubernetes: ${name} points at a file that cannot be read`);
  }
};

const kubernetesAuthSettings = {
  VAULT_ADDR: setting.url(),
  VAULT_CACERT: z.string().optional(),
  VAULT_TOKEN_FILE: setting.file(),
  K8S_NAMESPACE: setting.nonEmpty(),
  KUBERNETES_HOST: setting.url().default('https://kubernetes.default.svc'),
  KUBERNETES_CA_FILE: z.string().default('/var/run/secrets/kubernetes.io/serviceaccount/ca.crt'),
  VAULT_K8S_MOUNT: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .default('kubernetes'),
  /** host:port as Vault reaches PostgreSQL: with the file below, the database engine step. */
  DATABASE_ADDRESS: z.string().optional(),
  /** The password `npm run db:migrate` gave lpi_vault_admin (a mounted Secret). */
  DATABASE_VAULT_ADMIN_PASSWORD_FILE: z.string().optional(),
};

/** The variables the setup Job reads. */
export const KUBERNETES_AUTH_SETTING_NAMES: readonly string[] = Object.keys(kubernetesAuthSettings);

/**
 * The setup Job's settings. The operator token comes from a file (a mounted Secret), never
 * from an environment variable, so that it does not show in `kubectl describe` or /proc.
 */
export function readKubernetesAuthConfig(
  env: Record<string, string | undefined> = process.env,
): Omit<KubernetesAuthOptions, 'log'> {
  const c = loadConfig('vault-kubernetes', kubernetesAuthSettings, env);
  if (!c.DATABASE_ADDRESS !== !c.DATABASE_VAULT_ADMIN_PASSWORD_FILE)
    throw new Error(
      'vault-kubernetes: DATABASE_ADDRESS and DATABASE_VAULT_ADMIN_PASSWORD_FILE go together',
    );
  return {
    vaultAddr: c.VAULT_ADDR,
    vaultCaCert: c.VAULT_CACERT ? readable('VAULT_CACERT', c.VAULT_CACERT) : undefined,
    vaultToken: readable('VAULT_TOKEN_FILE', c.VAULT_TOKEN_FILE),
    kubernetesHost: c.KUBERNETES_HOST,
    kubernetesCaCert: readable('KUBERNETES_CA_FILE', c.KUBERNETES_CA_FILE),
    namespace: c.K8S_NAMESPACE,
    mount: c.VAULT_K8S_MOUNT,
    database:
      c.DATABASE_ADDRESS && c.DATABASE_VAULT_ADMIN_PASSWORD_FILE
        ? {
            address: c.DATABASE_ADDRESS,
            adminPassword: readable(
              'DATABASE_VAULT_ADMIN_PASSWORD_FILE',
              c.DATABASE_VAULT_ADMIN_PASSWORD_FILE,
            ),
          }
        : undefined,
  };
}
