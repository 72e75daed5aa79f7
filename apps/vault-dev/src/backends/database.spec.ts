import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { Client } from 'pg';
import { startPostgresServer, type PostgresServer } from '@lpi/testing';
import { approleLogin, vaultCaller, type VaultResponse } from '../spec-helpers';
import { VaultDev } from '../vault-dev.server';

/**
 * The database secrets engine against a real PostgreSQL, set up as production is: a NOLOGIN
 * group role holds the grants, Vault's admin is a CREATEROLE role with ADMIN OPTION on it.
 */
let pg: PostgresServer;
let vault: VaultDev;
let server: Server;
let addr = '';
const issued: string[] = [];
const call = vaultCaller(() => addr);
const root = () => vault.rootToken;
const ADMIN_PASSWORD = 'adm1n-Pa55word-for-vault';
const CREATE = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE svc_group INHERIT;`;
const DROP = 'DROP ROLE IF EXISTS "{{name}}";';

const connectionUrl = () => `postgres://{{username}}:{{password}}@127.0.0.1:${pg.port}/lpi`;
const configure = (body: Record<string, unknown> = {}) =>
  call('POST', 'database/config/lpi', root(), {
    plugin_name: 'postgresql-database-plugin',
    connection_url: connectionUrl(),
    username: 'vault_admin',
    password: ADMIN_PASSWORD,
    allowed_roles: 'svc,other*',
    ...body,
  });
const role = (name: string, body: Record<string, unknown> = {}) =>
  call('POST', `database/roles/${name}`, root(), {
    db_name: 'lpi',
    creation_statements: CREATE,
    revocation_statements: DROP,
    default_ttl: '1h',
    max_ttl: '2h',
    ...body,
  });

async function loginAs(username: string, password: string): Promise<Client> {
  const c = new Client({
    host: '127.0.0.1',
    port: pg.port,
    database: 'lpi',
    user: username,
    password,
    connectionTimeoutMillis: 2000,
  });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function pgRole(name: string): Promise<{ rolvaliduntil: Date | null } | undefined> {
  const admin = await pg.admin();
  const res = await admin.query<{ rolvaliduntil: Date | null }>(
    'SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1',
    [name],
  );
  return res.rows[0];
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const creds = async (token: string, name = 'svc'): Promise<VaultResponse> =>
  call('GET', `database/creds/${name}`, token);

beforeAll(async () => {
  pg = await startPostgresServer();
  const su = await pg.admin();
  await su.query(`
    CREATE TABLE app_items (id int, note text);
    CREATE TABLE other_items (id int);
    INSERT INTO app_items VALUES (1, 'one');
    CREATE ROLE svc_group NOLOGIN;
    GRANT SELECT ON app_items TO svc_group;
    CREATE ROLE vault_admin LOGIN CREATEROLE PASSWORD '${ADMIN_PASSWORD}';
    GRANT svc_group TO vault_admin WITH ADMIN OPTION;
  `);
  vault = new VaultDev({
    onIssued: (v) => issued.push(...v),
    revokeRetry: { attempts: 6, baseMs: 200 },
  });
  server = await vault.listen(0);
  addr = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  await call('POST', 'sys/auth/approle', root(), { type: 'approle' });
  await call('PUT', 'sys/policies/acl/svc', root(), {
    policy: 'path "database/creds/svc" { capabilities = ["read"] }',
  });
});

afterAll(async () => {
  await new Promise((r) => server?.close(r));
  await vault?.close();
  await pg?.stop();
});

describe('mount and config', () => {
  it('is not mounted until sys/mounts/database enables it', async () => {
    expect((await call('GET', 'database/creds/svc', root())).status).toBe(404);
    const enable = await call('POST', 'sys/mounts/database', root(), { type: 'database' });
    expect(enable.status).toBe(204);
    const mounts = await call('GET', 'sys/mounts', root());
    expect(mounts.body.data['database/']).toMatchObject({ type: 'database' });
  });

  it('verifies the connection without echoing the password', async () => {
    const bad = await configure({ password: 'Wrong-Pa55word-xyz' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0]).toMatch(
      /^error creating database object: error verifying connection: .*password authentication failed/,
    );
    expect(JSON.stringify(bad.body)).not.toContain('Wrong-Pa55word-xyz');
    expect((await call('GET', 'database/config/lpi', root())).status).toBe(404);
  });

  it('stores the config and never reads back a password', async () => {
    expect((await configure()).status).toBe(204);
    const read = await call('GET', 'database/config/lpi', root());
    expect(read.body.data).toEqual({
      allowed_roles: ['svc', 'other*'],
      connection_details: { connection_url: connectionUrl(), username: 'vault_admin' },
      password_policy: '',
      plugin_name: 'postgresql-database-plugin',
      plugin_version: '',
      root_credentials_rotate_statements: [],
      verify_connection: true,
    });
    expect(JSON.stringify(read.body)).not.toContain(ADMIN_PASSWORD);
    expect(issued).toContain(ADMIN_PASSWORD);
    expect((await call('GET', 'database/config?list=true', root())).body.data.keys).toEqual([
      'lpi',
    ]);
  });

  it('warns about a password in the URL and redacts it on read', async () => {
    const url = `postgres://vault_admin:${ADMIN_PASSWORD}@127.0.0.1:${pg.port}/lpi`;
    const write = await call('POST', 'database/config/inline', root(), {
      plugin_name: 'postgresql-database-plugin',
      connection_url: url,
      max_open_connections: 2,
    });
    expect(write.status).toBe(200);
    expect(write.body.warnings).toEqual([
      'Password found in connection_url, use a templated url to enable root rotation and prevent read access to password information.',
    ]);
    const read = await call('GET', 'database/config/inline', root());
    expect(read.body.data.connection_details).toEqual({
      connection_url: `postgres://vault_admin:xxxxx@127.0.0.1:${pg.port}/lpi`,
      max_open_connections: 2,
    });
    expect(read.body.data.allowed_roles).toEqual([]);
    expect((await call('DELETE', 'database/config/inline', root())).status).toBe(204);
  });
});

describe('roles', () => {
  it('reads back the statement lists and TTLs in seconds', async () => {
    expect((await role('svc')).status).toBe(204);
    const read = await call('GET', 'database/roles/svc', root());
    expect(read.body.data).toEqual({
      creation_statements: [CREATE],
      credential_type: 'password',
      db_name: 'lpi',
      default_ttl: 3600,
      max_ttl: 7200,
      renew_statements: [],
      revocation_statements: [DROP],
      rollback_statements: [],
    });
    expect((await call('POST', 'database/roles/x', root(), {})).body).toEqual({
      errors: ['database name is required'],
    });
    expect((await role('x', { default_ttl: '3h', max_ttl: '1h' })).body.errors).toEqual([
      'ttl cannot be greater than max_ttl',
    ]);
    expect((await call('GET', 'database/roles?list=true', root())).body.data.keys).toEqual(['svc']);
  });
});

describe('database/creds', () => {
  it('issues a PostgreSQL user holding exactly the group grant, under a renewable lease', async () => {
    const svc = await approleLogin(call, root(), 'svc', ['svc']);
    const res = await creds(svc.token);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      request_id: expect.any(String),
      lease_id: expect.stringMatching(/^database\/creds\/svc\/[A-Za-z0-9]{24}$/),
      renewable: true,
      lease_duration: 3600,
      data: { username: expect.any(String), password: expect.any(String) },
      wrap_info: null,
      warnings: null,
      auth: null,
      mount_type: 'database',
    });
    const { username, password } = res.body.data as { username: string; password: string };
    expect(username).toMatch(/^v-approle-svc-[A-Za-z0-9]{20}-\d{10}$/);
    expect(password).toMatch(/^[A-Za-z0-9-]{20}$/);
    expect(password).toMatch(/[A-Z]/);
    expect(password).toMatch(/[a-z]/);
    expect(password).toMatch(/[0-9]/);
    expect(password).toContain('-');
    expect(issued).toContain(password);

    const user = await loginAs(username, password);
    expect((await user.query('SELECT note FROM app_items')).rows).toEqual([{ note: 'one' }]);
    await expect(user.query('SELECT * FROM other_items')).rejects.toMatchObject({
      code: '42501',
    });
    await expect(user.query("INSERT INTO app_items VALUES (2, 'x')")).rejects.toMatchObject({
      code: '42501',
    });
    await user.end();
    const validUntil = (await pgRole(username))?.rolvaliduntil?.getTime() ?? 0;
    expect(Math.abs(validUntil - (Date.now() + 3605_000))).toBeLessThan(5000);
  });

  it('renews from now, runs the renew statement, and caps at issue time + max_ttl', async () => {
    const svc = await approleLogin(call, root(), 'svc', ['svc']);
    const res = await creds(svc.token);
    const leaseId = res.body.lease_id as string;
    const renew = await call('POST', 'sys/leases/renew', svc.token, {
      lease_id: leaseId,
      increment: 1800,
    });
    expect(renew.body).toMatchObject({
      lease_id: leaseId,
      renewable: true,
      lease_duration: 1800,
      data: null,
      warnings: null,
      mount_type: 'system',
    });
    const validUntil = (await pgRole(res.body.data.username))?.rolvaliduntil?.getTime() ?? 0;
    expect(Math.abs(validUntil - (Date.now() + 1805_000))).toBeLessThan(5000);

    const capped = await call('POST', 'sys/leases/renew', svc.token, {
      lease_id: leaseId,
      increment: '27h46m40s',
    });
    expect(capped.body.lease_duration).toBeGreaterThan(7190);
    expect(capped.body.lease_duration).toBeLessThanOrEqual(7200);
    expect(capped.body.warnings).toEqual([
      expect.stringMatching(
        /^TTL of "27h46m40s" exceeded the effective max_ttl of "(1h59m\d+s|2h0m0s)"; TTL value is capped accordingly$/,
      ),
    ]);
    const lookup = await call('POST', 'sys/leases/lookup', svc.token, { lease_id: leaseId });
    expect(lookup.body.data).toEqual({
      id: leaseId,
      issue_time: expect.any(String),
      expire_time: expect.any(String),
      last_renewal: expect.any(String),
      renewable: true,
      ttl: capped.body.lease_duration,
    });
    expect((await call('POST', 'sys/leases/renew', svc.token, {})).body).toEqual({
      errors: ['lease_id must be specified'],
    });
    const unknown = await call('POST', 'sys/leases/renew', svc.token, {
      lease_id: 'database/creds/svc/nope',
    });
    expect(unknown.body).toEqual({ errors: ['lease not found'] });
  });

  it('revoke (sync by default) drops the role; login fails afterwards', async () => {
    const svc = await approleLogin(call, root(), 'svc', ['svc']);
    const res = await creds(svc.token);
    const { username, password } = res.body.data as { username: string; password: string };
    expect(
      (await call('POST', 'sys/leases/revoke', svc.token, { lease_id: res.body.lease_id })).status,
    ).toBe(403);
    const revoke = await call('POST', 'sys/leases/revoke', root(), { lease_id: res.body.lease_id });
    expect(revoke.status).toBe(204);
    expect(await pgRole(username)).toBeUndefined();
    await expect(loginAs(username, password)).rejects.toMatchObject({ code: '28P01' });
    const renew = await call('POST', 'sys/leases/renew', svc.token, {
      lease_id: res.body.lease_id,
    });
    expect(renew.body).toEqual({ errors: ['lease not found'] });
    const again = await call('POST', 'sys/leases/revoke', root(), { lease_id: res.body.lease_id });
    expect(again.status).toBe(204);
  });

  it('sync=false answers 202 and revokes in the background', async () => {
    const svc = await approleLogin(call, root(), 'svc', ['svc']);
    const res = await creds(svc.token);
    const lazy = await call('POST', 'sys/leases/revoke', root(), {
      lease_id: res.body.lease_id,
      sync: false,
    });
    expect(lazy.status).toBe(202);
    await until('the lazy revocation', async () => !(await pgRole(res.body.data.username)));
  });

  it('drops the role when the lease expires (a real timer)', async () => {
    await role('svc-short', { default_ttl: 1, max_ttl: 1 });
    const res = await creds(root(), 'svc-short');
    expect(res.status).toBe(500); // not in allowed_roles: svc,other*
    await role('other-short', { default_ttl: 2, max_ttl: 2 });
    const short = await creds(root(), 'other-short');
    expect(short.body.lease_duration).toBe(2);
    expect(short.body.data.username).toMatch(/^v-root-other-sh-/);
    expect(await pgRole(short.body.data.username)).toBeDefined();
    await until('the expiry revocation', async () => !(await pgRole(short.body.data.username)));
    const renew = await call('POST', 'sys/leases/renew', root(), { lease_id: short.body.lease_id });
    expect(renew.body).toEqual({ errors: ['lease not found'] });
  });

  it('revoking the token that read the creds drops its users; so does the token expiring', async () => {
    const svc = await approleLogin(call, root(), 'svc', ['svc']);
    const a = await creds(svc.token);
    const b = await creds(svc.token);
    expect((await call('POST', 'auth/token/revoke-self', svc.token)).status).toBe(204);
    for (const r of [a, b])
      await until('the token revocation', async () => !(await pgRole(r.body.data.username)));

    await call('POST', 'auth/approle/role/svc-brief', root(), {
      token_policies: ['svc'],
      token_ttl: 3,
      token_max_ttl: 3,
    });
    const brief = await approleLogin(call, root(), 'svc-brief', ['svc']);
    const c = await creds(brief.token);
    expect(c.body.lease_duration).toBe(3600);
    await until('the token expiry', async () => !(await pgRole(c.body.data.username)));
  });

  it('answers unknown, not-allowed and forbidden roles as Vault does', async () => {
    expect((await creds(root(), 'nope')).body).toEqual({ errors: ['unknown role: nope'] });
    await role('notallowed');
    const denied = await creds(root(), 'notallowed');
    expect(denied.status).toBe(500);
    expect(denied.body).toEqual({
      errors: ['1 error occurred:\n\t* "notallowed" is not an allowed role\n\n'],
    });
    await role('other-glob');
    expect((await creds(root(), 'other-glob')).status).toBe(200);
    const svc = await approleLogin(call, root(), 'svc', ['svc']);
    const forbidden = await creds(svc.token, 'other-glob');
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.errors[0]).toMatch(/permission denied/);
  });

  it('reports a failing creation statement without any password', async () => {
    await role('other-broken', {
      creation_statements: `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' IN ROLE no_such_group;`,
    });
    const res = await creds(root(), 'other-broken');
    expect(res.status).toBe(500);
    expect(res.body.errors[0]).toMatch(
      /failed to execute query: ERROR: role "no_such_group" does not exist \(SQLSTATE 42704\)/,
    );
    const text = JSON.stringify(res.body);
    expect(text).not.toContain(ADMIN_PASSWORD);
    for (const secret of issued.slice(-1)) expect(text).not.toContain(secret);
  });

  it('lists leases by prefix and revokes a whole role with revoke-prefix', async () => {
    const a = await creds(root(), 'other-glob');
    const list = await call('GET', 'sys/leases/lookup/database/creds/?list=true', root());
    expect(list.body.data.keys).toEqual(expect.arrayContaining(['other-glob/']));
    const ids = await call('GET', 'sys/leases/lookup/database/creds/other-glob/?list=true', root());
    expect(ids.body.data.keys).toContain((a.body.lease_id as string).split('/').pop());
    const prefix = await call('POST', 'sys/leases/revoke-prefix/database/creds/other-glob', root());
    expect(prefix.status).toBe(204);
    expect(await pgRole(a.body.data.username)).toBeUndefined();
  });

  it('without revocation statements runs the default revocation, which a group setup fails (gotcha 17)', async () => {
    await role('other-default', { revocation_statements: [] });
    const res = await creds(root(), 'other-default');
    const stored = await call('GET', 'database/roles/other-default', root());
    expect(stored.body.data.revocation_statements).toEqual([]);
    const revoke = await call('POST', 'sys/leases/revoke', root(), { lease_id: res.body.lease_id });
    expect(revoke.status).toBe(400);
    expect(revoke.body.errors[0]).toMatch(/^failed to revoke entry: .*permission denied/);
    expect(await pgRole(res.body.data.username)).toBeDefined();
    // as a superuser's config would: the default path revokes, then drops
    const su = await pg.admin();
    await su.query('ALTER ROLE vault_admin SUPERUSER');
    try {
      const again = await call('POST', 'sys/leases/revoke', root(), {
        lease_id: res.body.lease_id,
      });
      expect(again.status).toBe(204);
      expect(await pgRole(res.body.data.username)).toBeUndefined();
    } finally {
      await su.query('ALTER ROLE vault_admin NOSUPERUSER');
    }
  });

  it('keeps a lease whose revocation fails, and retries it in the background', async () => {
    await role('other-stuck', {
      revocation_statements: 'DELETE FROM no_such_table; DROP ROLE IF EXISTS "{{name}}";',
      default_ttl: 1,
      max_ttl: 60,
    });
    const res = await creds(root(), 'other-stuck');
    const leaseId = res.body.lease_id as string;
    const sync = await call('POST', 'sys/leases/revoke', root(), { lease_id: leaseId });
    expect(sync.status).toBe(400);
    expect(sync.body.errors[0]).toMatch(
      /^failed to revoke entry: .*relation "no_such_table" does not exist/,
    );
    expect(await pgRole(res.body.data.username)).toBeDefined();
    // the lease expires; its revocation fails and is retried with backoff
    await until('the lease to expire', async () => {
      const lookup = await call('POST', 'sys/leases/lookup', root(), { lease_id: leaseId });
      return lookup.body.data.renewable === false;
    });
    const renew = await call('POST', 'sys/leases/renew', root(), { lease_id: leaseId });
    expect(renew.body).toEqual({ errors: ['lease expired'] });
    expect((await call('GET', 'sys/health')).status).toBe(200);
    await role('other-stuck', { revocation_statements: DROP, default_ttl: 1, max_ttl: 60 });
    await until('a retry to succeed', async () => !(await pgRole(res.body.data.username)));
    const lookup = await call('POST', 'sys/leases/lookup', root(), { lease_id: leaseId });
    expect(lookup.body).toEqual({ errors: ['invalid lease'] });
  });

  it('disabling the mount revokes its leases', async () => {
    const res = await creds(root(), 'other-glob');
    expect((await call('DELETE', 'sys/mounts/database', root())).status).toBe(204);
    expect(await pgRole(res.body.data.username)).toBeUndefined();
    expect((await creds(root(), 'other-glob')).status).toBe(404);
  });
});
