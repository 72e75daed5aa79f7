import {
  DATABASE_CONNECTION,
  DATABASE_MOUNT,
  DATABASE_NAME,
  SERVICE_NAMES,
} from '@lpi/access-matrix';
import { VAULT_ADMIN_ROLE, vaultRoleStatements } from '@lpi/database';

/** Where Vault reaches PostgreSQL, as the role `npm run db:migrate` prepared for it. */
export interface DatabaseEngineOptions {
  /** host:port as Vault sees it (`postgres:5432` in compose, `127.0.0.1:<port>` locally). */
  address: string;
  database?: string;
  /** The password `db:migrate` gave `lpi_vault_admin`. */
  adminPassword: string;
  /** A login's lease: short, renewed while in use (default 5 min). */
  defaultTtlSeconds?: number;
  /** No login lives longer than this; the service reads a new one before (default 1 h). */
  maxTtlSeconds?: number;
  /** `sslmode` in Vault's connection URL (default `disable`: same host or private network). */
  sslMode?: string;
}

type VaultCall = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; json: Record<string, any> }>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * Vault's database secrets engine: one connection as `lpi_vault_admin` (never a superuser),
 * allowed to serve exactly the services' roles, and one role per service whose logins hold
 * that service's group role and nothing else (statements generated from the access matrix).
 */
export async function configureDatabaseEngine(
  v: VaultCall,
  o: DatabaseEngineOptions,
): Promise<string[]> {
  const changes: string[] = [];
  const mounts = (await v('GET', 'sys/mounts')).json.data ?? {};
  if (!mounts[`${DATABASE_MOUNT}/`]) {
    await v('POST', `sys/mounts/${DATABASE_MOUNT}`, { type: 'database' });
    changes.push(`mounted database at ${DATABASE_MOUNT}/`);
  }
  const db = o.database ?? DATABASE_NAME;
  await v('POST', `${DATABASE_MOUNT}/config/${DATABASE_CONNECTION}`, {
    plugin_name: 'postgresql-database-plugin',
    connection_url: `postgresql://{{username}}:{{password}}@${o.address}/${db}?sslmode=${o.sslMode ?? 'disable'}`,
    username: VAULT_ADMIN_ROLE,
    password: o.adminPassword,
    allowed_roles: [...SERVICE_NAMES],
    verify_connection: true,
  });
  changes.push(`database connection ${DATABASE_CONNECTION}`);
  for (const service of SERVICE_NAMES) {
    const desired = {
      db_name: DATABASE_CONNECTION,
      ...vaultRoleStatements(service),
      default_ttl: o.defaultTtlSeconds ?? 300,
      max_ttl: o.maxTtlSeconds ?? 3600,
    };
    const current = (await v('GET', `${DATABASE_MOUNT}/roles/${service}`)).json.data;
    if (
      !current ||
      JSON.stringify(current.creation_statements) !== JSON.stringify(desired.creation_statements) ||
      JSON.stringify(current.revocation_statements) !==
        JSON.stringify(desired.revocation_statements) ||
      current.default_ttl !== desired.default_ttl ||
      current.max_ttl !== desired.max_ttl
    ) {
      await v('POST', `${DATABASE_MOUNT}/roles/${service}`, desired);
      changes.push(`database role ${service}`);
    }
  }
  return changes;
}
