/** Monotonic milliseconds (never the wall clock: immune to host clock skew and jumps). */
export interface Clock {
  now(): number;
}
export const monotonicClock: Clock = { now: () => performance.now() };

export interface RefreshPolicy {
  /** Hard buffer: a token with less than this left is never served (callers wait). */
  hardBufferSeconds: number;
  /** Background refresh starts this long before the hard buffer, with jitter. */
  backgroundWindowSeconds: number;
  /** Fraction of the window used as random jitter (spreads a fleet's refreshes). */
  jitter: number;
}

/**
 * Defaults: hard buffer 60 s, background window 120 s with 50 % jitter. On a 900 s token the
 * background refresh runs between 720 s and 780 s and a caller never waits. Seed 000
 * (refresh at 800 of 900 s) is `{ hardBufferSeconds: 100, backgroundWindowSeconds: 0 }`;
 * seed 004 (300 s buffer on 3600 s) is `{ hardBufferSeconds: 300, backgroundWindowSeconds: 0 }`.
 */
export const DEFAULT_REFRESH_POLICY: RefreshPolicy = {
  hardBufferSeconds: 60,
  backgroundWindowSeconds: 120,
  jitter: 0.5,
};

/** When a cached token expires, stops being served, and starts being renewed (monotonic ms). */
export interface RefreshSchedule {
  expiresAt: number;
  hardAt: number;
  refreshAt: number;
}

/**
 * The cache core shared by every token this library hands out (provider tokens, caller
 * tokens): an entry is served until its hard buffer, renewed in the background from its
 * jittered refresh time, and at most one renewal per key runs at a time (single flight).
 */
export class TokenCache<E extends RefreshSchedule> {
  readonly entries = new Map<string, E>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  readonly policy: RefreshPolicy;

  constructor(
    policy: Partial<RefreshPolicy> = {},
    readonly clock: Clock = monotonicClock,
    private readonly random: () => number = Math.random,
  ) {
    this.policy = { ...DEFAULT_REFRESH_POLICY, ...policy };
  }

  /** The schedule of a token received at `receivedAt` that lives `expiresInSeconds`. */
  schedule(receivedAt: number, expiresInSeconds: number): RefreshSchedule {
    const expiresAt = receivedAt + expiresInSeconds * 1000;
    const hardBuffer = Math.min(this.policy.hardBufferSeconds, expiresInSeconds / 2) * 1000;
    const hardAt = expiresAt - hardBuffer;
    const window = Math.min(this.policy.backgroundWindowSeconds * 1000, (hardAt - receivedAt) / 2);
    const refreshAt = hardAt - window + window * this.policy.jitter * this.random();
    return { expiresAt, hardAt, refreshAt };
  }

  /**
   * The entry if it may still be served (`accept` adds conditions, e.g. same credential),
   * and whether its background renewal is due.
   */
  lookup(key: string, accept?: (entry: E) => boolean): { entry: E; due: boolean } | undefined {
    const entry = this.entries.get(key);
    const now = this.clock.now();
    if (!entry || now >= entry.hardAt || (accept && !accept(entry))) return undefined;
    return { entry, due: now >= entry.refreshAt };
  }

  /** Runs `fetch` unless one for `key` is already running; every caller shares its outcome. */
  once<T>(key: string, fetch: () => Promise<T>): Promise<T> {
    const running = this.inflight.get(key) as Promise<T> | undefined;
    if (running) return running;
    const promise = fetch().finally(() => this.inflight.delete(key));
    this.inflight.set(key, promise);
    return promise;
  }
}
