import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { Pool, type PoolClient, type PoolConfig, type QueryResultRow } from 'pg';
import type { DatabaseConfig } from './database.config';
import type { DatabaseLogin } from './credential-lease';

/** What a query runs on: the pool, or one transaction's client. */
export interface Queryable {
  query<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/** The database cannot be reached or is restarting: callers answer 503 or retry the job. */
export class DatabaseUnavailable extends Error {
  readonly code = 'DATABASE_UNAVAILABLE';
  constructor(readonly reason: string) {
    super(`the database is unavailable (${reason})`);
  }
}

const TRANSIENT_SQLSTATES = new Set([
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  '40001',
  '40P01',
]);
const TRANSIENT_SOCKET = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** A failure that says nothing about the query itself: the server went away, restarts, or the login expired. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (err instanceof DatabaseUnavailable) return true;
  const e = err as { code?: string; message?: string };
  if (e?.code && (TRANSIENT_SQLSTATES.has(e.code) || TRANSIENT_SOCKET.has(e.code))) return true;
  // 28P01/28000: the login was dropped (its lease ended) before the next one took over
  if (e?.code === '28P01' || e?.code === '28000') return true;
  return /Connection terminated|timeout exceeded when trying to connect|Cannot use a pool after calling end/i.test(
    e?.message ?? '',
  );
}

/**
 * The service's way into PostgreSQL: one pool per database login Vault issued. A new login
 * gets a new pool, checked before it takes over; the old pool finishes what it has in flight
 * and closes (its user is dropped when its lease ends). Callers never hold a pool: every
 * query resolves the current one.
 */
export class Database {
  private current?: { pool: Pool; login: DatabaseLogin };
  private readonly draining = new Set<Promise<void>>();

  constructor(
    private readonly config: DatabaseConfig,
    private readonly logger?: Logger,
  ) {}

  /** Takes a new login into use (CredentialLease calls this). */
  async useLogin(login: DatabaseLogin): Promise<void> {
    const pool = new Pool(this.poolConfig(login));
    pool.on('error', (err) =>
      this.logger?.warn({ err: { message: err.message } }, 'idle database connection failed'),
    );
    try {
      await pool.query('SELECT 1');
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    const old = this.current;
    this.current = { pool, login };
    if (old) this.drain(old.pool);
  }

  async query<R extends QueryResultRow = QueryResultRow>(text: string, values?: unknown[]) {
    try {
      const name = values ? statementName(text) : undefined;
      return await this.pool().query<R>(name ? { name, text, values } : { text, values });
    } catch (err) {
      throw mapUnavailable(err);
    }
  }

  /** Runs `work` in one transaction on one connection; rolled back if it throws. */
  async transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T> {
    let client: PoolClient;
    try {
      client = await this.pool().connect();
    } catch (err) {
      throw mapUnavailable(err);
    }
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw mapUnavailable(err);
    } finally {
      client.release();
    }
  }

  /** Readiness: the current login can run a query. */
  async check(): Promise<void> {
    await this.query('SELECT 1');
  }

  /** The user name of the login in use (for logs and the drill; never the password). */
  username(): string | undefined {
    return this.current?.login.username;
  }

  async close(): Promise<void> {
    const current = this.current;
    this.current = undefined;
    if (current) this.drain(current.pool);
    await Promise.all(this.draining);
  }

  private pool(): Pool {
    if (!this.current) throw new DatabaseUnavailable('no database login yet');
    return this.current.pool;
  }

  private drain(pool: Pool): void {
    const done = pool
      .end()
      .catch((err: Error) =>
        this.logger?.warn({ err: { message: err.message } }, 'closing a database pool failed'),
      )
      .finally(() => this.draining.delete(done));
    this.draining.add(done);
  }

  private poolConfig(login: DatabaseLogin): PoolConfig {
    const { host, port, database, poolMax, caFile } = this.config;
    return {
      host,
      port,
      database,
      user: login.username,
      password: login.password,
      max: poolMax,
      // a waiter on a pool being replaced must not hang (bounded), nor fail under a CPU spike
      connectionTimeoutMillis: 10_000,
      statement_timeout: 10_000,
      idle_in_transaction_session_timeout: 10_000,
      idleTimeoutMillis: 10_000,
      application_name: 'lpi',
      ssl: caFile ? { ca: readFileSync(caFile, 'utf8'), rejectUnauthorized: true } : undefined,
    };
  }
}

const statementNames = new Map<string, string>();
/** More distinct statement texts than this run unnamed: a bound on what each connection keeps. */
const MAX_NAMED_STATEMENTS = 256;

/**
 * The name a parameterised statement is prepared under on each connection, from its text:
 * PostgreSQL parses and plans it once per connection instead of on every call, and the
 * client sends Bind/Execute without the text (ADR 0034).
 */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_NAMED_STATEMENTS) {
    name = `lpi_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
    statementNames.set(text, name);
  }
  return name;
}

function mapUnavailable(err: unknown): unknown {
  if (err instanceof DatabaseUnavailable || !isDatabaseUnavailable(err)) return err;
  const code = (err as { code?: string }).code;
  return new DatabaseUnavailable(code ?? 'connection lost');
}
