import * as oidc from 'openid-client';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Logger } from 'pino';
import { type ClientCredential, CredentialSet, type TokenEndpointAuthMethod } from './credentials';
import { withTokenFetchSpan } from './auth-tracing';
import { assertionSigningKey } from './client-assertion';
import { AuthError } from './errors';
import { TokenMetrics } from './metrics';

import {
  type Clock,
  type RefreshPolicy,
  TokenCache,
  DEFAULT_REFRESH_POLICY,
  monotonicClock,
} from './token-cache';

export { type Clock, type RefreshPolicy, DEFAULT_REFRESH_POLICY, monotonicClock };

export interface NamedClientConfig {
  /** Name the service uses to ask for tokens, e.g. `provider`. */
  name: string;
  credentials: CredentialSet;
  scopes: readonly string[];
  resource?: string;
  authMethod?: TokenEndpointAuthMethod;
}

export interface TokenManagerOptions {
  issuer: string;
  tokenEndpoint?: string;
  /** PEM trust anchor for the authorization server. */
  caCert?: string;
  clients: readonly NamedClientConfig[];
  refresh?: Partial<RefreshPolicy>;
  retry?: { attempts?: number; baseDelayMs?: number; maxDelayMs?: number };
  /** After invalid_client with no next credential, calls fail fast for this long. */
  invalidClientCooldownMs?: number;
  requestTimeoutMs?: number;
  clock?: Clock;
  random?: () => number;
  metrics?: TokenMetrics;
  logger?: Logger;
  /** Injected transport (tests, benchmarks). Defaults to undici with the client's mTLS agent. */
  fetchImpl?: typeof fetch;
}

export interface AccessToken {
  readonly value: string;
  readonly scope: string;
  /** Monotonic ms at which the server says it expires (receipt time + expires_in). */
  readonly expiresAt: number;
}

interface CacheEntry {
  token: AccessToken;
  /** The token as an already settled promise, made once: a cache hit allocates nothing. */
  served: Promise<AccessToken>;
  expiresAt: number;
  refreshAt: number;
  hardAt: number;
  refreshToken?: string;
  credentialVersion: number;
}

interface ClientState {
  config: NamedClientConfig;
  authMethod: TokenEndpointAuthMethod;
  agents: Map<ClientCredential, Agent>;
  configs: Map<ClientCredential, oidc.Configuration>;
  cache: TokenCache<CacheEntry>;
  defaultScopes: string[];
  defaultKey: string;
  /**
   * The default-scope entry while it is before its refresh time: what a hit returns. With the
   * monotonic clock a timer at the refresh time clears it (the hit reads no clock); with an
   * injected clock the hit compares that clock (ADR 0029).
   */
  hot?: CacheEntry;
  hotTimer?: NodeJS.Timeout;
  hits: number;
  refusedUntil?: { until: number; error: AuthError };
}

const cacheKey = (sortedScopes: readonly string[], resource?: string) =>
  `${sortedScopes.join(' ')}|${resource ?? ''}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Client-credentials tokens for named clients: cached per (client, scopes, resource),
 * renewed before expiry in the background, one request per key however many callers,
 * backoff on failures while a valid token keeps being served, refresh_token when issued,
 * credential rotation without a restart.
 */
export class TokenManager {
  private readonly clients = new Map<string, ClientState>();
  private readonly clock: Clock;
  private readonly random: () => number;
  readonly metrics: TokenMetrics;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Hot entries expire by timer (monotonic clock) instead of a clock read per hit. */
  private readonly timedHot: boolean;
  private closed = false;

  constructor(private readonly options: TokenManagerOptions) {
    this.clock = options.clock ?? monotonicClock;
    this.timedHot = this.clock === monotonicClock;
    this.random = options.random ?? Math.random;
    this.metrics = options.metrics ?? new TokenMetrics();
    for (const c of options.clients) {
      const defaultScopes = [...c.scopes].sort();
      this.clients.set(c.name, {
        config: c,
        defaultScopes,
        defaultKey: cacheKey(defaultScopes, c.resource),
        hits: 0,
        authMethod: c.authMethod ?? 'client_secret_basic',
        agents: new Map(),
        configs: new Map(),
        cache: new TokenCache<CacheEntry>(options.refresh, this.clock, this.random),
      });
    }
    this.metrics.onCollectHits(() =>
      [...this.clients.values()].map((s): [string, number] => {
        const n = s.hits;
        s.hits = 0;
        return [s.config.name, n];
      }),
    );
    this.metrics.onCollectExpiry(() =>
      [...this.clients.values()].flatMap((s) =>
        [...s.cache.entries.values()].map((e): [string, number] => [
          s.config.name,
          (e.token.expiresAt - this.clock.now()) / 1000,
        ]),
      ),
    );
  }

  /**
   * A token for the named client. Served from the cache unless it is inside the hard buffer.
   * The hit path (default scopes, before the refresh time) is one map lookup and returns the
   * entry's settled promise: no allocation, no clock read with the monotonic clock.
   */
  getToken(
    name: string,
    override?: { scopes?: readonly string[]; resource?: string },
  ): Promise<AccessToken> {
    const state = this.clients.get(name);
    if (state !== undefined && override === undefined) {
      const hot = state.hot;
      if (
        hot !== undefined &&
        hot.credentialVersion === state.config.credentials.version &&
        (this.timedHot || this.clock.now() < hot.refreshAt)
      ) {
        state.hits += 1;
        return hot.served;
      }
    }
    return this.lookupOrRenew(name, override);
  }

  private async lookupOrRenew(
    name: string,
    override?: { scopes?: readonly string[]; resource?: string },
  ): Promise<AccessToken> {
    const state = this.state(name);
    let scopes = state.defaultScopes;
    let resource = state.config.resource;
    let key = state.defaultKey;
    if (override) {
      scopes = [...(override.scopes ?? state.config.scopes)].sort();
      resource = override.resource ?? state.config.resource;
      key = cacheKey(scopes, resource);
    }
    const version = state.config.credentials.version;
    const hit = state.cache.lookup(key, (e) => e.credentialVersion === version);
    if (hit) {
      state.hits += 1;
      if (hit.due) void this.renew(state, key, scopes, resource, 'background');
      else if (state.hot === undefined && !this.closed) this.heat(state, key, hit.entry);
      return hit.entry.token;
    }
    const kind = state.cache.entries.has(key) ? 'hard' : 'initial';
    return this.renew(state, key, scopes, resource, kind);
  }

  /**
   * The provider rejected `token` with 401: drop it, but only if it is still the cached one
   * (another caller may already have replaced it).
   */
  invalidate(name: string, token: string): void {
    const state = this.state(name);
    for (const [key, entry] of state.cache.entries)
      if (entry.token.value === token) state.cache.entries.delete(key);
    if (state.hot?.token.value === token) this.cool(state);
  }

  /** The mTLS agent for the client's current certificate (the provider client uses it too). */
  tlsOptions(name: string): { ca?: string; cert?: string; key?: string } {
    const cred = this.state(name).config.credentials.current();
    return { ca: this.options.caCert, cert: cred.cert, key: cred.key };
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.clients.values()) {
      this.cool(s);
      for (const a of s.agents.values()) void a.close();
    }
  }

  /** `entry` becomes what a default-scope hit returns, until its refresh time. */
  private heat(state: ClientState, key: string, entry: CacheEntry): void {
    const left = entry.refreshAt - this.clock.now();
    if (key !== state.defaultKey || !(left > 0)) return;
    this.cool(state);
    state.hot = entry;
    if (!this.timedHot) return;
    // capped at setTimeout's limit (~24.8 days): an early timer only means one slow-path hit
    const timer = setTimeout(
      () => {
        if (state.hot === entry) this.cool(state);
      },
      Math.min(left, 2 ** 31 - 1),
    );
    timer.unref();
    state.hotTimer = timer;
  }

  /** Hits take the full path (which starts a due renewal) until `heat` again. */
  private cool(state: ClientState): void {
    state.hot = undefined;
    if (state.hotTimer) clearTimeout(state.hotTimer);
    state.hotTimer = undefined;
  }

  private state(name: string): ClientState {
    const s = this.clients.get(name);
    if (!s) throw new AuthError('UNKNOWN_CLIENT', `no client named "${name}"`);
    return s;
  }

  /** Single flight per key: concurrent callers share one request and one outcome. */
  private renew(
    state: ClientState,
    key: string,
    scopes: string[],
    resource: string | undefined,
    kind: 'initial' | 'hard' | 'background',
  ): Promise<AccessToken> {
    const promise = state.cache.once(key, () =>
      withTokenFetchSpan(state.config.name, kind, () =>
        this.fetchWithRetry(state, key, scopes, resource, kind),
      ),
    );
    if (kind === 'background') promise.catch(() => undefined); // served from cache meanwhile
    return promise;
  }

  private async fetchWithRetry(
    state: ClientState,
    key: string,
    scopes: string[],
    resource: string | undefined,
    kind: string,
  ): Promise<AccessToken> {
    const name = state.config.name;
    if (kind !== 'initial') this.metrics.refreshes.inc({ client: name, kind });
    const refused = state.refusedUntil;
    if (refused && this.clock.now() < refused.until && refused.error) throw refused.error;

    const attempts = this.options.retry?.attempts ?? 4;
    const base = this.options.retry?.baseDelayMs ?? 200;
    const cap = this.options.retry?.maxDelayMs ?? 5_000;
    let lastError: AuthError | undefined;
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt += 1) {
      try {
        const entry = await this.requestToken(state, key, scopes, resource);
        state.cache.entries.set(key, entry);
        if (!this.closed) this.heat(state, key, entry);
        state.refusedUntil = undefined;
        return entry.token;
      } catch (err) {
        const error =
          err instanceof AuthError
            ? err
            : new AuthError('TOKEN_ENDPOINT_UNAVAILABLE', describe(err));
        lastError = error;
        this.metrics.failures.inc({ client: name, code: error.code });
        this.options.logger?.warn(
          { client: name, code: error.code, attempt },
          'token request failed',
        );
        if (error.code === 'INVALID_CLIENT') {
          if (state.config.credentials.promoteNext()) {
            this.options.logger?.info(
              { client: name },
              'current credential refused; switched to the next one',
            );
            continue;
          }
          state.refusedUntil = {
            until: this.clock.now() + (this.options.invalidClientCooldownMs ?? 5_000),
            error,
          };
          throw error;
        }
        if (!error.retryable && error.code !== 'TOKEN_RESPONSE_MALFORMED') throw error;
        // a still-valid token keeps the service running while we back off
        const cached = state.cache.entries.get(key);
        if (cached && this.clock.now() < cached.token.expiresAt && kind !== 'initial') {
          this.scheduleRetry(state, key, scopes, resource, Math.min(cap, base * 2 ** attempt));
          return cached.token;
        }
        if (attempt < attempts)
          await sleep(Math.min(cap, base * 2 ** (attempt - 1)) * (0.5 + this.random() / 2));
      }
    }
    throw lastError ?? new AuthError('TOKEN_ENDPOINT_UNAVAILABLE', 'token manager closed');
  }

  private scheduleRetry(
    state: ClientState,
    key: string,
    scopes: string[],
    resource: string | undefined,
    delayMs: number,
  ): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      const entry = state.cache.entries.get(key);
      if (entry) entry.refreshAt = this.clock.now(); // next caller triggers a background renew
      if (state.hot === entry) this.cool(state);
    }, delayMs);
    timer.unref();
    this.timers.add(timer);
  }

  private async requestToken(
    state: ClientState,
    key: string,
    scopes: string[],
    resource: string | undefined,
  ): Promise<CacheEntry> {
    const name = state.config.name;
    const credentials = state.config.credentials;
    const cred = credentials.current();
    // built once per credential (no await on the way when it exists: renewals start at once)
    const config = state.configs.get(cred) ?? (await this.configuration(state, cred));
    const previous = state.cache.entries.get(key);
    let response: oidc.TokenEndpointResponse | undefined;
    if (previous?.refreshToken && previous.credentialVersion === credentials.version) {
      this.metrics.requests.inc({ client: name, grant: 'refresh_token' });
      try {
        response = await oidc.refreshTokenGrant(config, previous.refreshToken);
      } catch (err) {
        // seed 002: a failed or expired refresh falls back to a full client-credentials exchange
        this.options.logger?.info(
          { client: name, reason: mapError(err).code },
          'refresh_token refused; using client credentials',
        );
      }
    }
    if (!response) {
      this.metrics.requests.inc({ client: name, grant: 'client_credentials' });
      const params: Record<string, string> = { scope: scopes.join(' ') };
      if (resource) params.resource = resource;
      try {
        response = await oidc.clientCredentialsGrant(config, params);
      } catch (err) {
        throw mapError(err);
      }
    }
    const receivedAt = this.clock.now();
    const expiresIn = response.expires_in;
    if (
      typeof response.access_token !== 'string' ||
      !response.access_token ||
      typeof expiresIn !== 'number' ||
      !(expiresIn > 0)
    ) {
      throw new AuthError(
        'TOKEN_RESPONSE_MALFORMED',
        'the token response lacks access_token or a positive expires_in',
      );
    }
    const { expiresAt, hardAt, refreshAt } = state.cache.schedule(receivedAt, expiresIn);
    this.options.logger?.debug(
      { client: name, expires_in: expiresIn, scope: response.scope },
      'token issued',
    );
    const token = {
      value: response.access_token,
      scope: response.scope ?? scopes.join(' '),
      expiresAt,
    };
    return {
      token,
      served: Promise.resolve(token),
      expiresAt,
      hardAt,
      refreshAt,
      refreshToken:
        response.refresh_token ??
        (previous?.credentialVersion === credentials.version ? previous.refreshToken : undefined),
      credentialVersion: credentials.version,
    };
  }

  private async configuration(
    state: ClientState,
    cred: ClientCredential,
  ): Promise<oidc.Configuration> {
    let config = state.configs.get(cred);
    if (config) return config;
    const auth =
      state.authMethod === 'private_key_jwt'
        ? oidc.PrivateKeyJwt(await assertionSigningKey(cred))
        : state.authMethod === 'tls_client_auth'
          ? oidc.TlsClientAuth()
          : state.authMethod === 'client_secret_post'
            ? oidc.ClientSecretPost(cred.clientSecret ?? '')
            : oidc.ClientSecretBasic(cred.clientSecret ?? '');
    config = new oidc.Configuration(
      {
        issuer: this.options.issuer,
        token_endpoint: this.options.tokenEndpoint ?? `${this.options.issuer}/token`,
      },
      cred.clientId,
      undefined,
      auth,
    );
    const agent = new Agent({
      connect: { ca: this.options.caCert, cert: cred.cert, key: cred.key },
      connectTimeout: this.options.requestTimeoutMs ?? 10_000,
    });
    state.agents.set(cred, agent);
    const timeout = this.options.requestTimeoutMs ?? 10_000;
    config[oidc.customFetch] = (url, init) =>
      this.options.fetchImpl
        ? this.options.fetchImpl(url, {
            ...init,
            signal: AbortSignal.timeout(timeout),
          } as RequestInit)
        : (undiciFetch(url, {
            ...(init as object),
            dispatcher: agent,
            signal: AbortSignal.timeout(timeout),
          }) as unknown as Promise<Response>);
    state.configs.set(cred, config);
    return config;
  }
}

function describe(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (err instanceof Error) return `${err.name}${typeof code === 'string' ? ` ${code}` : ''}`;
  return 'unknown error';
}

/** openid-client errors to our codes. Messages are rebuilt: never copied from responses. */
export function mapError(err: unknown): AuthError {
  if (err instanceof AuthError) return err;
  if (err instanceof oidc.WWWAuthenticateChallengeError) {
    // a 401 with `WWW-Authenticate: Basic ... error="invalid_client"` arrives as a challenge
    const oauthError = err.cause.find((c) => c.parameters.error)?.parameters.error;
    if (oauthError === 'invalid_client' || err.status === 401) {
      return new AuthError(
        'INVALID_CLIENT',
        `the authorization server refused the client (HTTP ${err.status})`,
        { status: err.status, oauthError },
      );
    }
    return new AuthError(
      'TOKEN_REQUEST_REFUSED',
      `the authorization server answered HTTP ${err.status}`,
      { status: err.status, oauthError },
    );
  }
  if (err instanceof oidc.ResponseBodyError) {
    const status = err.status;
    switch (err.error) {
      case 'invalid_client':
        return new AuthError(
          'INVALID_CLIENT',
          `the authorization server refused the client (HTTP ${status})`,
          { status, oauthError: err.error },
        );
      case 'invalid_scope':
        return new AuthError(
          'INVALID_SCOPE',
          `the authorization server refused the requested scope (HTTP ${status})`,
          { status, oauthError: err.error },
        );
      case 'temporarily_unavailable':
      case 'server_error':
        return new AuthError(
          'TOKEN_ENDPOINT_UNAVAILABLE',
          `the authorization server answered ${err.error} (HTTP ${status})`,
          { status, oauthError: err.error },
        );
      default:
        return status >= 500
          ? new AuthError('TOKEN_ENDPOINT_UNAVAILABLE', `HTTP ${status}`, {
              status,
              oauthError: err.error,
            })
          : new AuthError(
              'TOKEN_REQUEST_REFUSED',
              `the authorization server answered ${err.error} (HTTP ${status})`,
              { status, oauthError: err.error },
            );
    }
  }
  const rawCode = (err as { code?: unknown })?.code;
  const code = typeof rawCode === 'string' ? rawCode : '';
  const cause = (err as { cause?: { status?: number; name?: string } })?.cause;
  if (code === 'OAUTH_TIMEOUT' || cause?.name === 'TimeoutError' || cause?.name === 'AbortError') {
    return new AuthError('TOKEN_ENDPOINT_UNAVAILABLE', 'the token endpoint did not answer in time');
  }
  if (
    code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' &&
    typeof cause?.status === 'number' &&
    cause.status >= 500
  ) {
    return new AuthError('TOKEN_ENDPOINT_UNAVAILABLE', `HTTP ${cause.status}`, {
      status: cause.status,
    });
  }
  if (code.startsWith('OAUTH_') || err instanceof SyntaxError) {
    return new AuthError(
      'TOKEN_RESPONSE_MALFORMED',
      `the token response could not be processed (${code || 'invalid JSON'})`,
    );
  }
  return new AuthError(
    'TOKEN_ENDPOINT_UNAVAILABLE',
    `the token endpoint could not be reached (${describe(err)})`,
  );
}
