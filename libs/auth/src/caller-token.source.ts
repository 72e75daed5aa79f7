import { decodeJwt } from 'jose';
import type { Logger } from 'pino';
import {
  identityRoleName,
  servicesCalledBy,
  type CallerName,
  type ServiceName,
} from '@lpi/access-matrix';
import { AuthError } from './errors';
import { type Clock, type RefreshPolicy, type RefreshSchedule, TokenCache } from './token-cache';

export interface CallerTokenSourceOptions {
  vaultAddr: string;
  caller: CallerName;
  /** The caller's own Vault token (from its AppRole or Kubernetes login), read at each mint. */
  vaultToken: () => string | Promise<string>;
  refresh?: Partial<RefreshPolicy>;
  clock?: Clock;
  random?: () => number;
  fetchImpl?: typeof fetch;
  requestTimeoutMs?: number;
  logger?: Logger;
}

interface Entry extends RefreshSchedule {
  token: string;
}

/**
 * A caller's tokens for the services it may call: minted by Vault
 * (`GET identity/oidc/token/<caller>-to-<service>`, with the caller's own Vault token), cached
 * per role, renewed in the background before expiry, one mint per role however many callers
 * wait (the provider token manager's cache core). Vault's policy, generated from the access
 * matrix, decides which audiences this caller can mint at all.
 */
export class CallerTokenSource {
  private readonly cache: TokenCache<Entry>;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: CallerTokenSourceOptions) {
    this.cache = new TokenCache<Entry>(
      // caller tokens live minutes, not hours: keep a fifth of their life as the hard buffer
      { hardBufferSeconds: 30, backgroundWindowSeconds: 60, ...options.refresh },
      options.clock,
      options.random,
    );
    this.fetchImpl = options.fetchImpl ?? fetch;
  }

  get caller(): CallerName {
    return this.options.caller;
  }

  /** The services this caller is granted in the matrix (it may still ask Vault for others). */
  get services(): ServiceName[] {
    return servicesCalledBy(this.options.caller);
  }

  /** A token whose `aud` is `service`. */
  async token(service: ServiceName): Promise<string> {
    const role = identityRoleName(this.options.caller, service);
    const hit = this.cache.lookup(role);
    if (hit) {
      if (hit.due) void this.cache.once(role, () => this.mint(role)).catch(() => undefined);
      return hit.entry.token;
    }
    return this.cache.once(role, () => this.mint(role));
  }

  /** `Bearer <token>` for an Authorization header. */
  async authorization(service: ServiceName): Promise<string> {
    return `Bearer ${await this.token(service)}`;
  }

  /** Mints with the role named directly (the drill asks for roles the matrix never grants). */
  async mintRole(role: string): Promise<string> {
    return this.cache.once(role, () => this.mint(role));
  }

  private async mint(role: string): Promise<string> {
    const url = `${this.options.vaultAddr.replace(/\/+$/, '')}/v1/identity/oidc/token/${role}`;
    let res: Response;
    try {
      res = await this.fetchImpl(url, {
        headers: { 'X-Vault-Token': await this.options.vaultToken(), 'X-Vault-Request': 'true' },
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 10_000),
      });
    } catch (err) {
      throw new AuthError(
        'IDENTITY_TOKEN_UNAVAILABLE',
        `Vault did not answer the mint of ${role} (${err instanceof Error ? err.name : 'error'})`,
      );
    }
    const body = (await res.json().catch(() => ({}))) as {
      data?: { token?: unknown; ttl?: unknown };
    };
    if (res.status >= 500)
      throw new AuthError('IDENTITY_TOKEN_UNAVAILABLE', `Vault answered HTTP ${res.status}`, {
        status: res.status,
      });
    const token = body.data?.token;
    if (res.status !== 200 || typeof token !== 'string')
      throw new AuthError(
        'IDENTITY_TOKEN_REFUSED',
        `Vault refused ${this.options.caller} a token for ${role} (HTTP ${res.status})`,
        { status: res.status },
      );
    const receivedAt = this.cache.clock.now();
    const lifetime = lifetimeSeconds(token, body.data?.ttl);
    this.cache.entries.set(role, { token, ...this.cache.schedule(receivedAt, lifetime) });
    this.options.logger?.debug({ caller: this.options.caller, role, lifetime }, 'caller token');
    return token;
  }
}

/**
 * A token's life from its own claims (`exp - iat`, immune to the local clock) and the role ttl
 * Vault reports (which is not capped by the key's verification ttl): the shorter one.
 */
function lifetimeSeconds(token: string, ttl: unknown): number {
  let fromClaims = Number.POSITIVE_INFINITY;
  try {
    const { exp, iat } = decodeJwt(token);
    if (typeof exp === 'number' && typeof iat === 'number') fromClaims = exp - iat;
  } catch {
    // not a JWT we can read: the role ttl decides
  }
  const life = Math.min(fromClaims, typeof ttl === 'number' && ttl > 0 ? ttl : 60);
  return life > 0 ? life : 1;
}
