import { DatabaseError, Pool, type PoolClient } from 'pg';
import {
  expirationString,
  queriesOf,
  quoteIdent,
  statementList,
  substitute,
} from './database-statements';

const DEFAULT_RENEW = `ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';`;

export interface PostgresSettings {
  connectionUrl: string;
  username: string;
  password: string;
  maxOpenConnections: number;
  disableEscaping: boolean;
}

/** url.PathEscape: unreserved characters and `$&+,:;=@` stay, the rest is %-encoded */
function pathEscape(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) => {
      const c = String.fromCharCode(b);
      return /[A-Za-z0-9\-_.~$&+,:;=@]/.test(c)
        ? c
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** pgx's rendering of a server error, which is what Vault's messages carry */
export function pgMessage(err: unknown): string {
  if (err instanceof DatabaseError)
    return `${err.severity ?? 'ERROR'}: ${err.message} (SQLSTATE ${err.code ?? ''})`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * plugins/database/postgresql: Vault's pool to one database as its configured ("root") user,
 * and the user lifecycle: NewUser, UpdateUser (expiration) and DeleteUser.
 */
export class PostgresPlugin {
  private readonly pool: Pool;
  /** values that must never reach an error message */
  readonly secrets: string[];

  constructor(settings: PostgresSettings) {
    const esc = (v: string) => (settings.disableEscaping ? v : pathEscape(v));
    const url = substitute(settings.connectionUrl, {
      username: esc(settings.username),
      password: esc(settings.password),
    });
    this.secrets = [settings.password, pathEscape(settings.password)].filter(Boolean);
    this.pool = new Pool({
      connectionString: url,
      max: settings.maxOpenConnections,
      connectionTimeoutMillis: 5000,
      idleTimeoutMillis: 30_000,
    });
    // an idle connection dropped by the server must not take vault-dev down
    this.pool.on('error', () => undefined);
  }

  /** Initialize with verify_connection: connect and ping */
  async verify(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async newUser(o: {
    username: string;
    password: string;
    expiresAt: number;
    statements: string[];
  }): Promise<void> {
    if (!o.statements.length) throw new Error('empty creation statements');
    const vars = {
      name: o.username,
      username: o.username,
      password: o.password,
      expiration: expirationString(o.expiresAt),
    };
    await this.transaction(queriesOf(o.statements, vars), 'failed to execute query: ');
  }

  async renewUser(username: string, expiresAt: number, statements: string[]): Promise<void> {
    const vars = { name: username, username, expiration: expirationString(expiresAt) };
    const stmts = statements.length ? statements : [DEFAULT_RENEW];
    await this.transaction(queriesOf(stmts, vars), '');
  }

  async deleteUser(username: string, statements: unknown): Promise<void> {
    const list = statementList(statements);
    if (!list.length) return this.defaultDeleteUser(username);
    await this.transaction(queriesOf(list, { name: username, username }), '');
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => undefined);
  }

  private async transaction(queries: string[], prefix: string): Promise<void> {
    const client = await this.pool.connect();
    let broken = false;
    try {
      await client.query('BEGIN');
      for (const q of queries) {
        try {
          await client.query(q);
        } catch (err) {
          throw new Error(`${prefix}${pgMessage(err)}`);
        }
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  /** defaultDeleteUser: revoke what the user holds (errors collected), then drop it */
  private async defaultDeleteUser(username: string): Promise<void> {
    const client: PoolClient = await this.pool.connect();
    try {
      const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [username]);
      if (!exists.rowCount) return;
      const u = quoteIdent(username);
      const schemas = await client.query<{ table_schema: string }>(
        'SELECT DISTINCT table_schema FROM information_schema.role_column_grants WHERE grantee = $1',
        [username],
      );
      const db = await client.query<{ db: string }>('SELECT current_database() AS db');
      const revokes = [
        ...schemas.rows.flatMap(({ table_schema: s }) => [
          `REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA ${quoteIdent(s)} FROM ${u}`,
          `REVOKE USAGE ON SCHEMA ${quoteIdent(s)} FROM ${u}`,
        ]),
        `REVOKE ALL PRIVILEGES ON ALL TABLES IN SCHEMA public FROM ${u}`,
        `REVOKE ALL PRIVILEGES ON ALL SEQUENCES IN SCHEMA public FROM ${u}`,
        `REVOKE USAGE ON SCHEMA public FROM ${u}`,
        `REVOKE CONNECT ON DATABASE ${quoteIdent(db.rows[0].db)} FROM ${u}`,
      ];
      const errors: string[] = [];
      for (const q of revokes)
        await client.query(q).catch((err: unknown) => errors.push(pgMessage(err)));
      if (errors.length) throw new Error(errors.join('; '));
      await client.query(`DROP ROLE IF EXISTS ${u}`);
    } finally {
      client.release();
    }
  }
}
