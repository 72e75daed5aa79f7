import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Queryable } from './database';

/** The schema migrations shipped with the repo, applied in file-name order. */
export const MIGRATIONS_DIR = join(__dirname, '..', 'migrations');

export interface Migration {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((name) => {
      const sql = readFileSync(join(dir, name), 'utf8');
      return { name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    });
}

/**
 * Applies the migrations not applied yet, each in its own transaction, as the database's
 * owner (a one-shot step, never a service: no service may run DDL). A migration whose file
 * changed after it was applied stops the run: history is appended to, not rewritten.
 */
export async function applyMigrations(
  db: Queryable & { query(text: string): Promise<unknown> },
  migrations: Migration[] = readMigrations(),
  log: (line: string) => void = () => undefined,
): Promise<string[]> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS lpi_migrations`);
  await db.query(
    `CREATE TABLE IF NOT EXISTS lpi_migrations.applied (
       name text PRIMARY KEY, checksum text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
  );
  const { rows } = await db.query<{ name: string; checksum: string }>(
    'SELECT name, checksum FROM lpi_migrations.applied',
  );
  const applied = new Map(rows.map((r) => [r.name, r.checksum]));
  const done: string[] = [];
  for (const m of migrations) {
    const seen = applied.get(m.name);
    if (seen && seen !== m.checksum)
      throw new Error(
        `migration ${m.name} changed after it was applied; add a new migration instead`,
      );
    if (seen) continue;
    log(`applying ${m.name}`);
    await db.query('BEGIN');
    try {
      await db.query(m.sql);
      await db.query('INSERT INTO lpi_migrations.applied (name, checksum) VALUES ($1, $2)', [
        m.name,
        m.checksum,
      ]);
      await db.query('COMMIT');
    } catch (err) {
      await db.query('ROLLBACK');
      throw new Error(`migration ${m.name} failed: ${(err as Error).message}`);
    }
    done.push(m.name);
  }
  return done;
}
