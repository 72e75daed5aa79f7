import { createHash, randomBytes } from 'node:crypto';
import { AppError } from '@lpi/service-bootstrap';

export interface Payment {
  id: string;
  object: 'payment';
  client_id: string;
  amount: number;
  currency: string;
  description?: string;
  status: 'succeeded';
  amount_refunded: number;
  idempotency_key: string;
  created_at: string;
}

export interface Refund {
  id: string;
  object: 'refund';
  client_id: string;
  payment: string;
  amount: number;
  currency: string;
  reason?: string;
  status: 'succeeded';
  idempotency_key: string;
  created_at: string;
}

export const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

/** Every payment and refund the provider accepted, in order. Tests check "charged once" here. */
export class Ledger {
  readonly payments = new Map<string, Payment>();
  readonly refunds = new Map<string, Refund>();
  private readonly order: (Payment | Refund)[] = [];

  addPayment(
    p: Omit<Payment, 'id' | 'object' | 'status' | 'amount_refunded' | 'created_at'>,
  ): Payment {
    const payment: Payment = {
      id: newId('pp'),
      object: 'payment',
      status: 'succeeded',
      amount_refunded: 0,
      created_at: new Date().toISOString(),
      ...p,
    };
    this.payments.set(payment.id, payment);
    this.order.push(payment);
    return payment;
  }

  addRefund(r: Omit<Refund, 'id' | 'object' | 'status' | 'created_at' | 'currency'>): Refund {
    const payment = this.payments.get(r.payment);
    if (!payment)
      throw new AppError(
        404,
        'invalid_request_error',
        'payment_not_found',
        `no payment ${r.payment}`,
      );
    const remaining = payment.amount - payment.amount_refunded;
    if (r.amount > remaining) {
      throw new AppError(
        400,
        'invalid_request_error',
        'amount_too_large',
        `refund amount exceeds the ${remaining} still refundable`,
      );
    }
    payment.amount_refunded += r.amount;
    const refund: Refund = {
      id: newId('pr'),
      object: 'refund',
      status: 'succeeded',
      currency: payment.currency,
      created_at: new Date().toISOString(),
      ...r,
    };
    this.refunds.set(refund.id, refund);
    this.order.push(refund);
    return refund;
  }

  transactions(): (Payment | Refund)[] {
    return this.order;
  }

  /** Entries and their summed amount (minor units) per kind and currency. */
  totals(): LedgerTotal[] {
    const byKey = new Map<string, LedgerTotal>();
    for (const t of this.order) {
      const key = `${t.object} ${t.currency}`;
      const total = byKey.get(key) ?? {
        kind: t.object,
        currency: t.currency,
        amount: 0,
        entries: 0,
      };
      total.amount += t.amount;
      total.entries += 1;
      byKey.set(key, total);
    }
    return [...byKey.values()];
  }
}

export interface LedgerTotal {
  kind: 'payment' | 'refund';
  currency: string;
  amount: number;
  entries: number;
}

interface IdempotencyEntry {
  fingerprint: string;
  state: 'in_flight' | 'done';
  response?: { status: number; body: unknown };
  createdAt: number;
}

/** Idempotency keys per client, kept 24 h (stored response replayed on a retry). */
export class IdempotencyStore {
  private readonly entries = new Map<string, IdempotencyEntry>();
  constructor(private readonly retentionMs = 24 * 3600 * 1000) {}

  async run(
    clientId: string,
    key: string | undefined,
    request: { method: string; path: string; body: unknown },
    operation: () => Promise<{ status: number; body: unknown }>,
  ): Promise<{ status: number; body: unknown; replayed: boolean }> {
    if (!key) {
      throw new AppError(
        400,
        'invalid_request_error',
        'idempotency_key_required',
        'writes need an Idempotency-Key header',
      );
    }
    if (!/^[\x21-\x7e]{1,255}$/.test(key)) {
      throw new AppError(
        400,
        'invalid_request_error',
        'idempotency_key_invalid',
        'Idempotency-Key must be 1-255 visible ASCII characters',
      );
    }
    this.expire();
    const id = `${clientId}\u0000${key}`;
    // the same key on another endpoint is a different request, and key order is not a change
    const fingerprint = createHash('sha256')
      .update(`${request.method} ${request.path} ${canonicalJson(request.body ?? null)}`)
      .digest('hex');
    const existing = this.entries.get(id);
    if (existing) {
      if (existing.fingerprint !== fingerprint) {
        throw new AppError(
          422,
          'idempotency_error',
          'idempotency_key_reused',
          'this Idempotency-Key was used with a different request body',
        );
      }
      if (existing.state === 'in_flight') {
        throw new AppError(
          409,
          'idempotency_error',
          'request_in_progress',
          'a request with this Idempotency-Key is still in progress; retry later',
        );
      }
      return { ...existing.response!, replayed: true };
    }
    const entry: IdempotencyEntry = { fingerprint, state: 'in_flight', createdAt: Date.now() };
    this.entries.set(id, entry);
    try {
      const response = await operation();
      entry.state = 'done';
      entry.response = response;
      return { ...response, replayed: false };
    } catch (err) {
      // a failed request may be retried with the same key
      this.entries.delete(id);
      throw err;
    }
  }

  private expire(): void {
    const cutoff = Date.now() - this.retentionMs;
    // entries are inserted in creation order: stop at the first one still retained
    for (const [k, e] of this.entries) {
      if (e.createdAt >= cutoff) break;
      this.entries.delete(k);
    }
  }
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    );
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Fixed one-minute window per client. */
export class RateLimiter {
  private readonly windows = new Map<string, { start: number; count: number }>();
  constructor(readonly limit: number) {}

  take(
    clientId: string,
    now = Date.now(),
  ): { allowed: boolean; remaining: number; resetSeconds: number } {
    let w = this.windows.get(clientId);
    if (!w || now - w.start >= 60_000) {
      w = { start: now, count: 0 };
      this.windows.set(clientId, w);
    }
    const resetSeconds = Math.max(1, Math.ceil((w.start + 60_000 - now) / 1000));
    if (w.count >= this.limit) return { allowed: false, remaining: 0, resetSeconds };
    w.count += 1;
    return { allowed: true, remaining: this.limit - w.count, resetSeconds };
  }
}
