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
