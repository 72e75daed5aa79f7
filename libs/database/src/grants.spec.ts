import { Client } from 'pg';
import { SERVICE_NAMES, TABLE_NAMES, grantOf, tableOwnerOf } from '@lpi/access-matrix';
import { startPostgresServer, type PostgresServer } from '@lpi/testing';
import { VAULT_ADMIN_ROLE, vaultRoleStatements } from './grants';
import { prepareDatabase } from './prepare';

/**
 * The grants the one-shot step derives from the access matrix, against a real PostgreSQL:
 * a login made the way Vault makes it (as lpi_vault_admin, with the role's creation statement)
 * reaches exactly its own service's tables.
 */
describe('database grants from the access matrix', () => {
  let pg: PostgresServer;
  const adminPassword = 'vault-admin-test-password-1';
  const logins: Client[] = [];

  beforeAll(async () => {
    pg = await startPostgresServer();
    const lines: string[] = [];
    await prepareDatabase(pg.url(), {
      vaultAdminPassword: adminPassword,
      log: (l) => lines.push(l),
    });
    expect(lines.join('\n')).toContain('0001_record_of_money.sql');
  }, 60_000);
  afterAll(async () => {
    for (const c of logins) await c.end().catch(() => undefined);
    await pg.stop();
  });

  const connectAs = async (user: string, password: string) => {
    const c = new Client({ host: pg.host, port: pg.port, database: pg.database, user, password });
    c.on('error', () => undefined);
    await c.connect();
    logins.push(c);
    return c;
  };

  /** What Vault does for `database/creds/<service>`, run as the Vault admin. */
  const loginFor = async (service: (typeof SERVICE_NAMES)[number]) => {
    const admin = await connectAs(VAULT_ADMIN_ROLE, adminPassword);
    const name = `v-test-${service.slice(0, 8)}-${Math.random().toString(36).slice(2, 10)}`;
    const password = `P-${Math.random().toString(36).slice(2)}A1`;
    const expiration = new Date(Date.now() + 600_000).toISOString();
    for (const s of vaultRoleStatements(service).creation_statements)
      await admin.query(
        s
          .replace(/\{\{name\}\}/g, name)
          .replace('{{password}}', password)
          .replace('{{expiration}}', expiration),
      );
    return { name, client: await connectAs(name, password) };
  };

  const denied = async (client: Client, sql: string) => {
    await client.query('SAVEPOINT probe').catch(() => undefined);
    const err = await client.query(sql).then(
      () => undefined,
      (e: { code?: string }) => e,
    );
    return err?.code;
  };

  it.each(SERVICE_NAMES)('%s reaches its own tables and no other', async (service) => {
    const { client } = await loginFor(service);
    for (const table of TABLE_NAMES) {
      const own = tableOwnerOf(table) === service;
      const code = await denied(client, `SELECT count(*) FROM ${table}`);
      expect({ table, code }).toEqual({ table, code: own ? undefined : '42501' });
      if (!own) {
        expect(await denied(client, `INSERT INTO ${table} DEFAULT VALUES`)).toBe('42501');
        expect(
          await denied(
            client,
            `UPDATE ${table} SET ${updatableColumn(table)} = ${updatableColumn(table)}`,
          ),
        ).toBe('42501');
      }
      if (own) expect(await denied(client, `DELETE FROM ${table}`)).toBe('42501');
    }
  });

  it.each(SERVICE_NAMES)(
    '%s can run no DDL, make no role, read no password hash',
    async (service) => {
      const { client } = await loginFor(service);
      const schema = grantOf(service).database.schema;
      expect(await denied(client, `CREATE TABLE ${schema}.stolen (x int)`)).toBe('42501');
      expect(await denied(client, 'CREATE TABLE public.stolen (x int)')).toBe('42501');
      expect(await denied(client, 'CREATE ROLE attacker LOGIN')).toBe('42501');
      expect(await denied(client, 'SELECT rolpassword FROM pg_authid')).toBe('42501');
      expect(
        await denied(
          client,
          `ALTER TABLE ${Object.keys(grantOf(service).database.tables)[0]} ADD COLUMN x int`,
        ),
      ).toBe('42501');
      expect(await denied(client, 'CREATE SCHEMA stolen')).toBe('42501');
    },
  );

  it('a login is gone once its revocation statements ran (open sessions end too)', async () => {
    const { name, client } = await loginFor('payment-service');
    const admin = await connectAs(VAULT_ADMIN_ROLE, adminPassword);
    for (const s of vaultRoleStatements('payment-service').revocation_statements)
      await admin.query(s.replace(/\{\{name\}\}/g, name));
    await expect(client.query('SELECT 1')).rejects.toThrow();
    await expect(connectAs(name, 'whatever')).rejects.toMatchObject({ code: '28P01' });
  });

  it('the Vault admin itself reads no service table (NOINHERIT)', async () => {
    const admin = await connectAs(VAULT_ADMIN_ROLE, adminPassword);
    for (const table of TABLE_NAMES)
      expect(await denied(admin, `SELECT 1 FROM ${table}`)).toBe('42501');
  });

  it('running the step again changes nothing and keeps every grant', async () => {
    await prepareDatabase(pg.url(), { vaultAdminPassword: adminPassword });
    const { client } = await loginFor('refund-service');
    expect(await denied(client, 'SELECT count(*) FROM refunds.requests')).toBeUndefined();
  });
});

const updatableColumn = (table: string) =>
  table === 'reporting.sync_state'
    ? 'cursor'
    : table === 'reporting.totals'
      ? 'count'
      : table === 'webhooks.events'
        ? 'updated_at'
        : table.startsWith('reporting.')
          ? 'recorded_at'
          : 'state';
