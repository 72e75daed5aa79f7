import {
  DATABASE_NAME,
  SERVICE_NAMES,
  TABLE_NAMES,
  databaseGroupRoleOf,
  grantOf,
  type ServiceName,
} from '@lpi/access-matrix';

/** The role Vault's database secrets engine logs in as: it creates and drops service logins. */
export const VAULT_ADMIN_ROLE = 'lpi_vault_admin';

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;
const qualified = (table: string) => table.split('.').map(ident).join('.');

/** Every schema holding a table (the migrations create them). */
export const SERVICE_SCHEMAS = [...new Set(TABLE_NAMES.map((t) => t.split('.')[0]))];

/**
 * The grants of one service, from the access matrix: its NOLOGIN group role gets CONNECT,
 * USAGE on its own schema and exactly the table privileges the matrix lists; everything
 * else it might hold is revoked first, so narrowing the matrix narrows the database.
 */
export function serviceGrantStatements(service: ServiceName, database = DATABASE_NAME): string[] {
  const role = ident(databaseGroupRoleOf(service));
  const { schema, tables } = grantOf(service).database;
  const owned = Object.entries(tables);
  const statements = [
    `DO $$ BEGIN CREATE ROLE ${role} NOLOGIN NOINHERIT; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    `ALTER ROLE ${role} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`,
    `GRANT CONNECT ON DATABASE ${ident(database)} TO ${role}`,
    ...SERVICE_SCHEMAS.flatMap((s) => [
      `REVOKE ALL ON ALL TABLES IN SCHEMA ${ident(s)} FROM ${role}`,
      `REVOKE ALL ON SCHEMA ${ident(s)} FROM ${role}`,
    ]),
  ];
  // a service with no table yet (a new one from the generator) gets no schema at all
  if (owned.length) statements.push(`GRANT USAGE ON SCHEMA ${ident(schema)} TO ${role}`);
  for (const [table, privileges] of owned)
    statements.push(`GRANT ${privileges!.join(', ')} ON ${qualified(table)} TO ${role}`);
  return statements;
}

/**
 * Everything the one-shot step sets up besides the schema: nobody but the owner may connect
 * or create anything by default; each service's group role; the Vault admin, which may create
 * members of those group roles (ADMIN OPTION, as PostgreSQL 16 requires) and end their
 * sessions when their lease is revoked (pg_signal_backend), and nothing else.
 */
export function grantStatements(vaultAdminPassword?: string, database = DATABASE_NAME): string[] {
  const admin = ident(VAULT_ADMIN_ROLE);
  const statements = [
    `REVOKE ALL ON DATABASE ${ident(database)} FROM PUBLIC`,
    `REVOKE ALL ON SCHEMA public FROM PUBLIC`,
    ...SERVICE_NAMES.flatMap((s) => serviceGrantStatements(s, database)),
    `DO $$ BEGIN CREATE ROLE ${admin} LOGIN CREATEROLE NOINHERIT; EXCEPTION WHEN duplicate_object THEN NULL; END $$`,
    // NOINHERIT: a member of every group role, it holds none of their table privileges itself
    `ALTER ROLE ${admin} LOGIN CREATEROLE NOINHERIT NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS`,
    `GRANT CONNECT ON DATABASE ${ident(database)} TO ${admin}`,
    `GRANT pg_signal_backend TO ${admin}`,
    ...SERVICE_NAMES.map(
      (s) => `GRANT ${ident(databaseGroupRoleOf(s))} TO ${admin} WITH ADMIN OPTION`,
    ),
  ];
  if (vaultAdminPassword !== undefined)
    statements.push(`ALTER ROLE ${admin} PASSWORD '${vaultAdminPassword.replace(/'/g, "''")}'`);
  return statements;
}

/**
 * The statements Vault runs for a service's login (`database/roles/<service>`): a user that
 * expires with its lease and inherits the service's group role; on revocation its sessions
 * end and it is dropped (PostgreSQL itself would let an open session outlive the user).
 */
export function vaultRoleStatements(service: ServiceName): {
  creation_statements: string[];
  revocation_statements: string[];
  renew_statements: string[];
} {
  const group = ident(databaseGroupRoleOf(service));
  return {
    creation_statements: [
      `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE ${group} INHERIT NOCREATEDB NOCREATEROLE NOREPLICATION;`,
    ],
    revocation_statements: [
      // the admin is NOINHERIT: it takes up pg_signal_backend only for this statement
      `SET ROLE pg_signal_backend;`,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{{name}}';`,
      `RESET ROLE;`,
      `DROP ROLE IF EXISTS "{{name}}";`,
    ],
    renew_statements: [`ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';`],
  };
}
