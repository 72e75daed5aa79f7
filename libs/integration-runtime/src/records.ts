import { createHash } from 'node:crypto';
import type { TableName } from '@lpi/access-matrix';
import { isDatabaseUnavailable, type Database } from '@lpi/database';
import { AppError, badRequest } from '@lpi/service-bootstrap';

/** Where a stored request stands: received (stored), queued, then settled by its job. */
export type RecordState = 'received' | 'queued' | 'succeeded' | 'failed';

export interface StoredRecord {
  id: string;
  fingerprint: string;
  state: RecordState;
  providerId?: string;
  failureCode?: string;
  /** the job data it was stored with (the business id excluded) */
  data: Record<string, string | number>;
}

export type Settlement =
  { state: 'succeeded'; providerId: string } | { state: 'failed'; failureCode: string };

/**
 * A service's durable record of what it accepted (the outbox): stored before it is queued, so
 * a crash between the two loses nothing (the sweep queues it again under the same job id) and
 * sends nothing twice; settled by the job; the status is read from here, not from the job.
 */
export interface RequestRecords {
  /** Stores it unless the id exists: then the stored one comes back (same key, other body?). */
  record(
    id: string,
    data: Record<string, unknown>,
  ): Promise<{ created: boolean; stored: StoredRecord }>;
  /** May be batched: resolves once the mark is written (a lost one costs a no-op re-add). */
  markQueued(id: string): Promise<void>;
  /** Writes marks still waiting in a batch (shutdown). */
  flush?(): Promise<void>;
  settle(id: string, outcome: Settlement): Promise<void>;
  find(id: string): Promise<StoredRecord | undefined>;
  /** Records stored at least `olderThanMs` ago and not known to be queued (oldest first). */
  unqueued(olderThanMs: number, limit: number): Promise<StoredRecord[]>;
}

/** Opens the records of one table (the SQL store, or in-memory ones in unit specs). */
export abstract class RecordsFactory {
  abstract open(table: TableName, columns: readonly string[]): RequestRecords;
}

/** The same data always gives the same fingerprint (keys sorted, the business id excluded). */
export function fingerprintOf(data: Record<string, unknown>): string {
  const canonical = JSON.stringify(
    Object.keys(data)
      .sort()
      .filter((k) => data[k] !== undefined)
      .map((k) => [k, data[k]]),
  );
  return createHash('sha256').update(canonical).digest('base64url');
}

/** PostgreSQL down or restarting: nothing was accepted, and a retry is safe. */
export const databaseUnavailable = (message: string) =>
  new AppError(503, 'api_error', 'database_unavailable', message, { 'Retry-After': '1' });

/**
 * A database call from a request: an outage is a 503 (retry); a value the database cannot hold
 * (SQLSTATE class 22: a NUL in text, a number out of range) is the caller's 400, never a 500
 * (the contracts refuse the known ones first; this is the class behind them).
 */
export async function orUnavailable<T>(work: Promise<T>, message: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw databaseUnavailable(message);
    if (/^22/.test(String((err as { code?: unknown }).code ?? '')))
      throw badRequest('invalid_parameters', 'a value in the request cannot be stored');
    throw err;
  }
}

/**
 * How long queued marks gather before one UPDATE writes them all: a mark only keeps the sweep
 * (2 s grace) from re-adding a record, so it can wait; one round trip per request was ~1/7 of
 * a payment's PostgreSQL statements (issue 22).
 */
export const MARK_QUEUED_WINDOW_MS = 100;

/** `RequestRecords` on one table of the service's own schema. */
export class SqlRequestRecords implements RequestRecords {
  private readonly select: string;
  private queuedIds: string[] = [];
  private queuedBatch?: Promise<void>;

  constructor(
    private readonly db: Pick<Database, 'query'>,
    private readonly table: TableName,
    private readonly columns: readonly string[],
  ) {
    const settled = table.endsWith('.events') ? '' : ', provider_id, failure_code';
    this.select = `SELECT id, fingerprint, state${settled}, ${columns.join(', ')} FROM ${table}`;
  }

  async record(id: string, data: Record<string, unknown>) {
    const fingerprint = fingerprintOf(data);
    const values = this.columns.map((c) => data[c] ?? null);
    const placeholders = this.columns.map((_, i) => `$${i + 3}`).join(', ');
    const inserted = await this.db.query(
      `INSERT INTO ${this.table} (id, fingerprint, ${this.columns.join(', ')})
       VALUES ($1, $2, ${placeholders}) ON CONFLICT (id) DO NOTHING RETURNING id`,
      [id, fingerprint, ...values],
    );
    if (inserted.rowCount)
      return {
        created: true,
        stored: { id, fingerprint, state: 'received' as const, data: pick(data, this.columns) },
      };
    const stored = await this.find(id);
    if (!stored) throw new Error(`${this.table} ${id} vanished`);
    return { created: false, stored };
  }

  markQueued(id: string): Promise<void> {
    this.queuedIds.push(id);
    this.queuedBatch ??= new Promise<void>((resolve) =>
      setTimeout(resolve, MARK_QUEUED_WINDOW_MS).unref(),
    ).then(() => this.flush());
    return this.queuedBatch;
  }

  async flush(): Promise<void> {
    const ids = this.queuedIds;
    this.queuedIds = [];
    this.queuedBatch = undefined;
    if (!ids.length) return;
    await this.db.query(
      `UPDATE ${this.table} SET state = 'queued', updated_at = now()
       WHERE id = ANY($1::text[]) AND state = 'received'`,
      [ids],
    );
  }

  async settle(id: string, outcome: Settlement): Promise<void> {
    await this.db.query(
      `UPDATE ${this.table} SET state = $2, provider_id = $3, failure_code = $4, updated_at = now()
       WHERE id = $1`,
      [
        id,
        outcome.state,
        outcome.state === 'succeeded' ? outcome.providerId : null,
        outcome.state === 'failed' ? outcome.failureCode : null,
      ],
    );
  }

  async find(id: string): Promise<StoredRecord | undefined> {
    const { rows } = await this.db.query(`${this.select} WHERE id = $1`, [id]);
    return rows[0] ? this.toRecord(rows[0]) : undefined;
  }

  async unqueued(olderThanMs: number, limit: number): Promise<StoredRecord[]> {
    const { rows } = await this.db.query(
      `${this.select} WHERE state = 'received' AND created_at < now() - make_interval(secs => $1)
       ORDER BY created_at LIMIT $2`,
      [olderThanMs / 1000, limit],
    );
    return rows.map((r) => this.toRecord(r));
  }

  private toRecord(row: Record<string, unknown>): StoredRecord {
    const data: Record<string, string | number> = {};
    for (const c of this.columns) {
      const v = row[c];
      if (v === null || v === undefined) continue;
      // bigint columns come back as strings; amounts fit a JS number (contract max 1e8)
      data[c] = c === 'amount' ? Number(v) : (v as string | number);
    }
    return {
      id: String(row.id),
      fingerprint: String(row.fingerprint),
      state: row.state as RecordState,
      providerId: (row.provider_id as string | null) ?? undefined,
      failureCode: (row.failure_code as string | null) ?? undefined,
      data,
    };
  }
}

/** In-memory records for unit specs (same semantics as the SQL store, no age). */
export class MemoryRequestRecords implements RequestRecords {
  readonly rows = new Map<string, StoredRecord>();
  down = false;

  constructor(private readonly columns: readonly string[]) {}

  private check() {
    if (this.down)
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), {
        code: 'ECONNREFUSED',
      });
  }

  async record(id: string, data: Record<string, unknown>) {
    this.check();
    const existing = this.rows.get(id);
    if (existing) return { created: false, stored: existing };
    const stored: StoredRecord = {
      id,
      fingerprint: fingerprintOf(data),
      state: 'received',
      data: pick(data, this.columns),
    };
    this.rows.set(id, stored);
    return { created: true, stored };
  }

  async markQueued(id: string) {
    this.check();
    const r = this.rows.get(id);
    if (r?.state === 'received') r.state = 'queued';
  }

  async settle(id: string, outcome: Settlement) {
    this.check();
    const r = this.rows.get(id);
    if (!r) return;
    r.state = outcome.state;
    if (outcome.state === 'succeeded') r.providerId = outcome.providerId;
    else r.failureCode = outcome.failureCode;
  }

  async find(id: string) {
    this.check();
    return this.rows.get(id);
  }

  async unqueued(_olderThanMs: number, limit: number) {
    this.check();
    return [...this.rows.values()].filter((r) => r.state === 'received').slice(0, limit);
  }
}

function pick(
  data: Record<string, unknown>,
  columns: readonly string[],
): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const c of columns)
    if (data[c] !== undefined && data[c] !== null) out[c] = data[c] as string | number;
  return out;
}
