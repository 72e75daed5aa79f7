import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDevPki, startPostgresServer, type PostgresServer } from '@lpi/testing';
import { Database } from './database';

/** DATABASE_CA_FILE: TLS to PostgreSQL with the server's certificate verified, against a real server. */
describe('Database over TLS', () => {
  let pg: PostgresServer;
  let dir: string;
  let caFile: string;
  let otherCaFile: string;
  beforeAll(async () => {
    const [pki, other] = await Promise.all([createDevPki(), createDevPki()]);
    pg = await startPostgresServer({ tls: pki.server });
    dir = mkdtempSync(join(tmpdir(), 'lpi-db-tls-'));
    caFile = join(dir, 'ca.crt');
    otherCaFile = join(dir, 'other-ca.crt');
    writeFileSync(caFile, pki.caCert);
    writeFileSync(otherCaFile, other.caCert);
  }, 60_000);
  afterAll(async () => {
    await pg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const database = (ca: string | undefined) =>
    new Database({ host: pg.host, port: pg.port, database: pg.database, poolMax: 2, caFile: ca });

  it('speaks TLS to a server whose certificate chains to DATABASE_CA_FILE', async () => {
    const db = database(caFile);
    try {
      await db.useLogin({ ...pg.superuser, leaseId: 'test' });
      const { rows } = await db.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      expect(rows).toEqual([{ ssl: true }]);
    } finally {
      await db.close();
    }
  });

  it('refuses a server whose certificate another CA signed, before sending the login', async () => {
    const db = database(otherCaFile);
    try {
      await expect(db.useLogin({ ...pg.superuser, leaseId: 'test' })).rejects.toThrow(
        /certificate/i,
      );
    } finally {
      await db.close();
    }
  });

  it('without DATABASE_CA_FILE uses no TLS (a private network)', async () => {
    const db = database(undefined);
    try {
      await db.useLogin({ ...pg.superuser, leaseId: 'test' });
      const { rows } = await db.query<{ ssl: boolean }>(
        'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
      );
      expect(rows).toEqual([{ ssl: false }]);
    } finally {
      await db.close();
    }
  });
});

/** Parameterised statements are prepared once per connection, under a name from their text. */
describe('Database statements', () => {
  let pg: PostgresServer;
  let db: Database;
  beforeAll(async () => {
    pg = await startPostgresServer();
    db = new Database({
      host: pg.host,
      port: pg.port,
      database: pg.database,
      poolMax: 1,
      caFile: undefined,
    });
    await db.useLogin({ ...pg.superuser, leaseId: 'first' });
  }, 60_000);
  afterAll(async () => {
    await db?.close();
    await pg?.stop();
  });

  const prepared = async () =>
    (
      await db.query<{ name: string; statement: string }>(
        'SELECT name, statement FROM pg_prepared_statements ORDER BY name',
      )
    ).rows;

  it('prepares a parameterised statement on first use and reuses it, with the right results', async () => {
    const text = 'SELECT $1::int + $2::int AS sum';
    expect((await db.query<{ sum: number }>(text, [1, 2])).rows).toEqual([{ sum: 3 }]);
    expect((await db.query<{ sum: number }>(text, [40, 2])).rows).toEqual([{ sum: 42 }]);
    const named = (await prepared()).filter((s) => s.statement === text);
    expect(named).toHaveLength(1);
    expect(named[0].name).toMatch(/^lpi_[A-Za-z0-9_-]{22}$/);
  });

  it('gives another text another name, and leaves statements without parameters unnamed', async () => {
    await db.query('SELECT $1::text AS a', ['x']);
    await db.query('SELECT $1::text AS b', ['x']);
    const names = (await prepared()).map((s) => s.name);
    expect(new Set(names).size).toBe(names.length);
    expect((await prepared()).some((s) => s.statement.includes('pg_prepared_statements'))).toBe(
      false,
    );
  });

  it('prepares again on the connections of a new login (a rotated credential)', async () => {
    const text = 'SELECT $1::int * 2 AS twice';
    await db.query(text, [2]);
    await db.useLogin({ ...pg.superuser, leaseId: 'second' });
    expect((await db.query<{ twice: number }>(text, [21])).rows).toEqual([{ twice: 42 }]);
    expect((await prepared()).filter((s) => s.statement === text)).toHaveLength(1);
  });
});
