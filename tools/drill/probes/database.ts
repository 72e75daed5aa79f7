// PostgreSQL: a compromised service's own database login (read from Vault with its looted
// token) reaches its own tables with exactly the matrix's privileges and nothing else: no
// other service's tables, no DDL, no roles, no password hashes, no server files; it cannot
// read another service's login from Vault; a login whose lease was revoked stops working,
// even for a session that was already open.
import { Client } from 'pg';
import {
  SERVICE_NAMES,
  TABLE_NAMES,
  databaseCredsPathOf,
  databaseGroupRoleOf,
  grantOf,
  tableOwnerOf,
  type ServiceName,
  type TableName,
  type TablePrivilege,
} from '@lpi/access-matrix';
import { VAULT_ADMIN_ROLE } from '@lpi/database';
import { vaultCall } from '../clients';
import { allowed, denied, type Outcome } from '../rows';
import type { Probe, ProbeContext } from './context';

interface Login {
  username: string;
  password: string;
  leaseId: string;
}

/** SQLSTATEs that mean "you may not": insufficient privilege, login refused. */
const REFUSALS = new Set(['42501', '28P01', '28000', '57P01']);

/**
 * Runs one statement inside a transaction that is always rolled back (nothing an allowed
 * probe does stays). Allowed means the privilege check passed: a constraint error after it
 * (a NOT NULL column left empty) still counts as allowed.
 */
async function attempt(client: Client, sql: string): Promise<Outcome> {
  await client.query('BEGIN');
  try {
    await client.query(sql);
    return allowed('ran');
  } catch (err) {
    const e = err as { code?: string; message?: string };
    if (e.code && REFUSALS.has(e.code)) return denied(`${e.code} ${shortReason(e.message)}`);
    if (e.code?.startsWith('23')) return allowed(`privilege held; ${e.code} constraint`);
    return denied(`${e.code ?? 'error'} ${shortReason(e.message)}`);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

const shortReason = (message = '') => message.split('\n')[0].slice(0, 50);
/** Vault's multierror text (`1 error occurred:\n\t* permission denied`) on one line. */
const vaultReason = (error: unknown) =>
  String(error ?? '')
    .replace(/^\d+ errors? occurred:/, '')
    .replace(/[\s*]+/g, ' ')
    .trim()
    .slice(0, 50);

export async function connect(ctx: ProbeContext, login: Pick<Login, 'username' | 'password'>) {
  const pg = ctx.stack.postgres;
  const client = new Client({
    host: pg.host,
    port: pg.port,
    database: pg.database,
    user: login.username,
    password: login.password,
    connectionTimeoutMillis: 5000,
  });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

export async function readLogin(ctx: ProbeContext, token: string, service: ServiceName) {
  const res = await vaultCall(ctx.stack.vault.addr, 'GET', databaseCredsPathOf(service), token);
  return res.status === 200
    ? {
        login: {
          username: String(res.json.data.username),
          password: String(res.json.data.password),
          leaseId: String(res.json.lease_id),
        } as Login,
        outcome: allowed('200, a lease'),
      }
    : { outcome: denied(`${res.status} ${vaultReason(res.json.errors?.[0])}`) };
}

/** A column each table has, for an UPDATE that touches no row but needs the privilege. */
const SOME_COLUMN: Record<TableName, string> = {
  'payments.requests': 'state',
  'refunds.requests': 'state',
  'webhooks.events': 'state',
  'reporting.payments': 'recorded_at',
  'reporting.refunds': 'recorded_at',
  'reporting.provider_events': 'recorded_at',
  'reporting.provider_transactions': 'recorded_at',
  'reporting.sync_state': 'cursor',
  'reporting.totals': 'count',
};

const statementFor = (table: TableName, privilege: TablePrivilege | 'DELETE'): string =>
  ({
    SELECT: `SELECT 1 FROM ${table} LIMIT 1`,
    INSERT: `INSERT INTO ${table} DEFAULT VALUES`,
    UPDATE: `UPDATE ${table} SET ${SOME_COLUMN[table]} = ${SOME_COLUMN[table]} WHERE false`,
    DELETE: `DELETE FROM ${table} WHERE false`,
  })[privilege];

/** Writes to another service's requests would create or settle money movements. */
const movesMoney = (table: TableName, privilege: string) =>
  (table === 'payments.requests' || table === 'refunds.requests') && privilege !== 'SELECT';

async function tables(ctx: ProbeContext, service: ServiceName, client: Client) {
  const row = ctx.rows.for(service, 'database');
  const granted = grantOf(service).database.tables;
  for (const table of TABLE_NAMES) {
    const mine = granted[table] ?? [];
    for (const privilege of ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] as const) {
      const expected = (mine as readonly string[]).includes(privilege) ? 'allow' : 'deny';
      const owner = tableOwnerOf(table) === service ? 'own' : tableOwnerOf(table);
      row(
        `${privilege} ${table} (${owner})`,
        expected,
        await attempt(client, statementFor(table, privilege)),
        privilege === 'DELETE' || movesMoney(table, privilege),
      );
    }
  }
}

async function beyondTables(ctx: ProbeContext, service: ServiceName, client: Client) {
  const row = ctx.rows.for(service, 'database');
  const schema = grantOf(service).database.schema;
  const [ownTable] = Object.keys(grantOf(service).database.tables);
  const others = SERVICE_NAMES.filter((s) => s !== service);
  const attacks: [string, string][] = [
    ['CREATE TABLE in its own schema', `CREATE TABLE ${schema}.drill (x int)`],
    ['CREATE TABLE in public', 'CREATE TABLE public.drill (x int)'],
    ['CREATE SCHEMA', 'CREATE SCHEMA drill'],
    [`ALTER TABLE ${ownTable}`, `ALTER TABLE ${ownTable} ADD COLUMN drill int`],
    [`TRUNCATE ${ownTable}`, `TRUNCATE ${ownTable}`],
    [`DROP TABLE ${ownTable}`, `DROP TABLE ${ownTable}`],
    ['CREATE ROLE', 'CREATE ROLE drill LOGIN'],
    ['read pg_authid (password hashes)', 'SELECT rolpassword FROM pg_authid'],
    [`SET ROLE ${VAULT_ADMIN_ROLE}`, `SET ROLE ${VAULT_ADMIN_ROLE}`],
    [
      `SET ROLE another service's group (${databaseGroupRoleOf(others[0])})`,
      `SET ROLE ${databaseGroupRoleOf(others[0])}`,
    ],
    ['read a server file (pg_read_file)', "SELECT pg_read_file('/etc/passwd')"],
    ['run a program (COPY ... FROM PROGRAM)', "COPY pg_temp.x FROM PROGRAM 'id'"],
  ];
  for (const [capability, sql] of attacks)
    row(capability, 'deny', await attempt(client, sql), true);
}

/** The responder revokes the lease: the open session ends and the login is refused after. */
async function revokedLogin(ctx: ProbeContext, service: ServiceName, token: string) {
  const row = ctx.rows.for(service, 'database');
  const { login } = await readLogin(ctx, token, service);
  if (!login) return row('a second login to revoke', 'allow', denied('no login'), true);
  const open = await connect(ctx, login);
  try {
    await vaultCall(ctx.stack.vault.addr, 'POST', 'sys/leases/revoke', ctx.stack.vault.rootToken, {
      lease_id: login.leaseId,
    });
    row(
      'a session opened before its lease was revoked',
      'deny',
      await open.query('SELECT 1').then(
        () => allowed('still runs queries'),
        (e: { code?: string }) => denied(`${e.code ?? 'closed'} session ended`),
      ),
      true,
    );
  } finally {
    await open.end().catch(() => undefined);
  }
  row(
    'log in with a login whose lease was revoked',
    'deny',
    await connect(ctx, login).then(
      async (c) => {
        await c.end();
        return allowed('logged in');
      },
      (e: { code?: string }) => denied(`${e.code ?? 'refused'} login refused`),
    ),
    true,
  );
}

export const databaseProbe: Probe = async (ctx, service) => {
  const row = ctx.rows.for(service, 'database');
  const token = ctx.loot[service].vaultToken;
  for (const other of SERVICE_NAMES) {
    const read = await readLogin(ctx, token, other);
    row(
      other === service
        ? 'read its own database login from Vault'
        : `read ${other}'s database login from Vault`,
      other === service ? 'allow' : 'deny',
      read.outcome,
    );
  }
  const { login } = await readLogin(ctx, token, service);
  if (!login) return;
  const client = await connect(ctx, login);
  try {
    await tables(ctx, service, client);
    await beyondTables(ctx, service, client);
  } finally {
    await client.end().catch(() => undefined);
  }
  await revokedLogin(ctx, service, token);
};
