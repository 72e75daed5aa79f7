import { Client } from 'pg';
import { grantStatements } from './grants';
import { applyMigrations, readMigrations } from './migrations';

export interface PrepareOptions {
  /** The password to give `lpi_vault_admin` (unchanged when omitted). */
  vaultAdminPassword?: string;
  log?: (line: string) => void;
}

/**
 * The one-shot database step, as the database's owner: the schema migrations, then the grants
 * generated from the access matrix (re-derived on every run). Services never run it.
 */
export async function prepareDatabase(
  ownerUrl: string,
  options: PrepareOptions = {},
): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => undefined);
  const client = new Client({ connectionString: ownerUrl, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    log('[1/2] schema migrations');
    const applied = await applyMigrations(client, readMigrations(), log);
    log(applied.length ? `      applied ${applied.join(', ')}` : '      up to date');
    log('[2/2] grants generated from the access matrix');
    await client.query('BEGIN');
    for (const statement of grantStatements(options.vaultAdminPassword))
      await client.query(statement);
    await client.query('COMMIT');
    return { applied };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await client.end();
  }
}
