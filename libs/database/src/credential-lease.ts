import type { Logger } from 'pino';
import type { LeasedSecret, LeaseRenewal } from '@lpi/secrets';

/** A login Vault made for this service: a PostgreSQL user that is dropped when its lease ends. */
export interface DatabaseLogin {
  username: string;
  password: string;
  leaseId: string;
}

/** The part of the Vault session a lease needs (SecretsClient provides it). */
export interface LeaseSource {
  readLease(path: string): Promise<LeasedSecret>;
  renewLease(leaseId: string, incrementSeconds: number): Promise<LeaseRenewal>;
  watchSession(onNewToken: () => void): () => void;
}

export interface LeaseFigures {
  ttlSeconds: number;
  rotations: number;
}

/**
 * Keeps one database login alive the way Vault's LifetimeWatcher does: renew at two thirds
 * of what is left; when Vault caps the renewal at the lease's max TTL, refuses it (the lease
 * is gone) or the Vault session changes (a new token: the old token's leases go with it), read
 * a new login and hand it over while the old one still works. A Vault outage is retried until
 * the lease would run out.
 */
export class CredentialLease {
  private lease?: { leaseId: string; ttlSeconds: number; expiresAt: number };
  private timer?: NodeJS.Timeout;
  private closed = false;
  private rotations = 0;
  private stopWatching?: () => void;

  constructor(
    private readonly source: LeaseSource,
    private readonly path: string,
    private readonly onLogin: (login: DatabaseLogin) => Promise<void>,
    private readonly logger?: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  /** The first login; start-up fails here if Vault or the database refuses it. */
  async start(): Promise<void> {
    await this.rotate();
    this.stopWatching = this.source.watchSession(() => void this.rotateOrRetry('new Vault token'));
  }

  figures(): LeaseFigures {
    const ttlSeconds = this.lease ? Math.max(0, (this.lease.expiresAt - this.now()) / 1000) : 0;
    return { ttlSeconds, rotations: this.rotations };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.stopWatching?.();
  }

  private async rotate(): Promise<void> {
    const secret = await this.source.readLease(this.path);
    const { username, password } = secret.data;
    if (!username || !password)
      throw new Error(`${this.path} answered without a username and password`);
    await this.onLogin({ username, password, leaseId: secret.leaseId });
    const ttlSeconds = secret.leaseDurationSeconds;
    this.lease = { leaseId: secret.leaseId, ttlSeconds, expiresAt: this.now() + ttlSeconds * 1000 };
    this.rotations += 1;
    this.schedule();
  }

  private async rotateOrRetry(why: string): Promise<void> {
    if (this.closed) return;
    try {
      await this.rotate();
      this.logger?.info({ path: this.path, why }, 'database login rotated');
    } catch (err) {
      this.logger?.warn(
        { path: this.path, why, err: (err as Error).message },
        'database login rotation failed; retrying',
      );
      this.retrySoon();
    }
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.closed || !this.lease?.ttlSeconds) return;
    const left = this.lease.expiresAt - this.now();
    this.timer = setTimeout(() => void this.renew(), Math.max(100, (left * 2) / 3));
    this.timer.unref();
  }

  private retrySoon(): void {
    clearTimeout(this.timer);
    if (this.closed) return;
    const left = this.lease ? this.lease.expiresAt - this.now() : 0;
    this.timer = setTimeout(() => void this.renew(), Math.min(5000, Math.max(250, left / 4)));
    this.timer.unref();
  }

  private async renew(): Promise<void> {
    const lease = this.lease;
    if (this.closed || !lease) return;
    let renewal: LeaseRenewal;
    try {
      renewal = await this.source.renewLease(lease.leaseId, lease.ttlSeconds);
    } catch (err) {
      const gone = (err as { code?: string }).code === 'LEASE_GONE';
      if (gone || lease.expiresAt <= this.now()) return this.rotateOrRetry('lease gone');
      this.logger?.warn({ path: this.path }, 'database lease renewal failed; retrying');
      return this.retrySoon();
    }
    lease.expiresAt = this.now() + renewal.leaseDurationSeconds * 1000;
    if (renewal.capped) return this.rotateOrRetry('lease reaches its max TTL');
    this.schedule();
  }
}
