import { badRequest } from './backend';
import type { TokenStore } from './token-store';

/** 0 in a TTL means the system value: 768h on a fresh Vault (expiration.go maxLeaseTTL) */
export const SYSTEM_LEASE_TTL = 32 * 24 * 3600;
/** setTimeout's limit; a later expiry is re-armed when this fires */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** What a secret engine does for its leases (the secret type's Renew and Revoke handlers). */
export interface SecretEngine {
  /** runs at renewal with the lease's new TTL in seconds */
  renew(lease: SecretLease, ttl: number): Promise<void>;
  revoke(lease: SecretLease): Promise<void>;
}

/** A secret lease (vault/expiration.go leaseEntry), owned by the token that read the secret. */
export interface SecretLease {
  id: string;
  tokenId: string;
  issuedAt: number;
  expiresAt: number;
  lastRenewal?: number;
  /** the backend's TTLs in seconds (Secret.TTL / Secret.MaxTTL); 0 = the system value */
  defaultTtl: number;
  maxTtl: number;
  /** what the engine needs to renew or revoke (Vault's InternalData) */
  internal: Record<string, unknown>;
  engine: SecretEngine;
  attempts: number;
  /** set after the last failed attempt: Vault's irrevocable lease */
  irrevocable?: string;
  inflight?: Promise<void>;
}

export interface RevokeRetry {
  attempts: number;
  baseMs: number;
}

/**
 * sdk/framework/lease.go CalculateTTL: the increment (or the backend TTL, or the system TTL),
 * capped at issue time + max TTL, with Vault's warning; past the cap, an error.
 */
export function calculateTtl(o: {
  increment: number;
  defaultTtl: number;
  maxTtl: number;
  issuedAt: number;
  now: number;
}): { ttl: number; warnings: string[] } {
  const now = Math.floor(o.now / 1000);
  const start = Math.floor(o.issuedAt / 1000);
  const maxTtl = o.maxTtl > 0 && o.maxTtl < SYSTEM_LEASE_TTL ? o.maxTtl : SYSTEM_LEASE_TTL;
  let ttl = o.increment > 0 ? o.increment : o.defaultTtl > 0 ? o.defaultTtl : SYSTEM_LEASE_TTL;
  const maxValid = start + maxTtl - now;
  if (maxValid <= 0) throw badRequest('past the max TTL, cannot renew');
  const warnings: string[] = [];
  if (ttl > maxValid) {
    warnings.push(
      `TTL of "${goDuration(ttl)}" exceeded the effective max_ttl of "${goDuration(maxValid)}"; TTL value is capped accordingly`,
    );
    ttl = maxValid;
  }
  return { ttl, warnings };
}

/** Go's time.Duration String() for whole seconds: `1h0m0s`, `1m30s`, `5s` */
export function goDuration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * The expiration manager for secret leases: one timer per lease revokes it at expiry, a
 * token's revocation (or expiry) revokes every lease it created, and a failed revocation is
 * retried with exponential backoff until it is marked irrevocable, as Vault does.
 */
export class SecretLeases {
  private readonly leases = new Map<string, SecretLease>();
  private readonly byToken = new Map<string, Set<string>>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly tokenWatch = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly tokens: TokenStore,
    private readonly now: () => number,
    private readonly retry: RevokeRetry = { attempts: 6, baseMs: 10_000 },
  ) {
    tokens.onRevoke((id) => this.revokeByToken(id));
  }

  register(lease: Omit<SecretLease, 'attempts'>): SecretLease {
    const entry: SecretLease = { ...lease, attempts: 0 };
    this.leases.set(entry.id, entry);
    const owned = this.byToken.get(entry.tokenId) ?? new Set<string>();
    owned.add(entry.id);
    this.byToken.set(entry.tokenId, owned);
    this.arm(entry);
    this.watchToken(entry.tokenId);
    return entry;
  }

  get(id: string): SecretLease | undefined {
    return this.leases.get(id);
  }

  all(): SecretLease[] {
    return [...this.leases.values()];
  }

  /** vault/expiration.go Renew: the engine runs its renew statements, then the lease moves. */
  async renew(id: string, increment: number): Promise<{ ttl: number; warnings: string[] }> {
    const lease = this.leases.get(id);
    if (!lease) throw badRequest('lease not found');
    const now = this.now();
    if (lease.expiresAt <= now || lease.inflight || lease.irrevocable)
      throw badRequest('lease expired');
    const calc = calculateTtl({ ...lease, increment, now });
    try {
      await lease.engine.renew(lease, calc.ttl);
    } catch (err) {
      throw badRequest(err instanceof Error ? err.message : 'renew failed');
    }
    lease.expiresAt = now + calc.ttl * 1000;
    lease.lastRenewal = now;
    this.arm(lease);
    return calc;
  }

  /** Revokes now (sync); a failure leaves the lease in place and is reported. */
  revoke(id: string): Promise<void> {
    const lease = this.leases.get(id);
    if (!lease) return Promise.resolve();
    lease.inflight ??= lease.engine
      .revoke(lease)
      .then(() => this.forget(lease))
      .finally(() => (lease.inflight = undefined));
    return lease.inflight;
  }

  /** LazyRevoke: expire now, revoke in the background with retries. */
  expireNow(id: string): void {
    const lease = this.leases.get(id);
    if (!lease) return;
    lease.expiresAt = Math.min(lease.expiresAt, this.now());
    this.revokeInBackground(lease);
  }

  close(): void {
    this.closed = true;
    for (const t of [...this.timers.values(), ...this.tokenWatch.values()]) clearTimeout(t);
    this.timers.clear();
    this.tokenWatch.clear();
  }

  private revokeByToken(tokenId: string): void {
    clearTimeout(this.tokenWatch.get(tokenId));
    this.tokenWatch.delete(tokenId);
    for (const id of this.byToken.get(tokenId) ?? []) this.expireNow(id);
  }

  private revokeInBackground(lease: SecretLease): void {
    if (this.closed || lease.irrevocable) return;
    this.revoke(lease.id).catch((err: unknown) => {
      lease.attempts += 1;
      if (lease.attempts >= this.retry.attempts) {
        lease.irrevocable = err instanceof Error ? err.message : 'revocation failed';
        return;
      }
      this.setTimer(lease.id, this.retry.baseMs * 2 ** (lease.attempts - 1), () =>
        this.revokeInBackground(lease),
      );
    });
  }

  /** the expiry timer; a renewal re-arms it */
  private arm(lease: SecretLease): void {
    this.setTimer(lease.id, lease.expiresAt - this.now(), () => {
      if (lease.expiresAt > this.now()) this.arm(lease);
      else this.revokeInBackground(lease);
    });
  }

  /** an expired token is revoked when it is next looked at: look at it when it expires */
  private watchToken(tokenId: string): void {
    const token = this.tokens.get(tokenId);
    if (!token?.expiresAt || this.closed) return;
    clearTimeout(this.tokenWatch.get(tokenId));
    const t = setTimeout(
      () => this.watchToken(tokenId),
      Math.min(Math.max(0, token.expiresAt - this.now()) + 10, MAX_TIMER_MS),
    );
    t.unref();
    this.tokenWatch.set(tokenId, t);
  }

  private setTimer(id: string, delayMs: number, fn: () => void): void {
    if (this.closed) return;
    clearTimeout(this.timers.get(id));
    const t = setTimeout(fn, Math.min(Math.max(0, delayMs), MAX_TIMER_MS));
    t.unref();
    this.timers.set(id, t);
  }

  private forget(lease: SecretLease): void {
    this.leases.delete(lease.id);
    clearTimeout(this.timers.get(lease.id));
    this.timers.delete(lease.id);
    const owned = this.byToken.get(lease.tokenId);
    owned?.delete(lease.id);
    if (owned && !owned.size) {
      this.byToken.delete(lease.tokenId);
      clearTimeout(this.tokenWatch.get(lease.tokenId));
      this.tokenWatch.delete(lease.tokenId);
    }
  }
}
