import {
  errors,
  importJWK,
  jwtVerify,
  type CryptoKey,
  type JWK,
  type JWTHeaderParameters,
  type JWTVerifyOptions,
} from 'jose';
import { Agent, fetch as undiciFetch } from 'undici';
import type { Logger } from 'pino';
import { isCallerName, type CallerName, type ServiceName } from '@lpi/access-matrix';
import type { CallerAuthOptions } from './caller-auth.config';

export type CallerTokenErrorCode = 'invalid_token' | 'issuer_unavailable';

/** A caller token refused, or not checkable. `description` never quotes the token. */
export class CallerTokenError extends Error {
  constructor(
    readonly code: CallerTokenErrorCode,
    readonly description: string,
  ) {
    super(`${code}: ${description}`);
    this.name = 'CallerTokenError';
  }
}

/** What the guard learns about a caller from its verified token. */
export interface CallerClaims {
  /** The caller identity, from the role template (`client_id`, as in RFC 9068). */
  readonly caller: CallerName;
  readonly scopes: readonly string[];
  /** Vault entity id of the identity that minted the token. */
  readonly subject: string;
  readonly expiresAt: number;
}

const invalid = (description: string) => new CallerTokenError('invalid_token', description);

interface IssuerJwk {
  kid?: unknown;
  alg?: unknown;
  use?: unknown;
  kty?: unknown;
}

/**
 * The issuer's key set, kept as imported keys by `kid`: verifying a token is one map lookup
 * and one clock read while the set is fresh (under `jwksCacheMaxAgeMs`). Past that age the next
 * token refetches it; an unknown `kid` refetches it at most once per `jwksCooldownMs` (a key
 * Vault just rotated in); concurrent fetches are shared. A refetch replaces the whole set, so
 * a key the issuer removed stops verifying. A key is used only for the `alg` it is published
 * with, and a `kid` published twice is refused (ambiguous). When a fetch fails and a set was
 * fetched before, the last one keeps verifying and no fetch is tried again for the cooldown;
 * with none, the token cannot be checked: `issuer_unavailable`.
 */
export class IssuerKeySet {
  private keys = new Map<string, { alg: string; key: CryptoKey }>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private attemptedAt = Number.NEGATIVE_INFINITY;
  private failedAt = Number.NEGATIVE_INFINITY;
  private everFetched = false;
  private inflight?: Promise<void>;
  private readonly dispatcher?: Agent;

  constructor(
    private readonly options: CallerAuthOptions,
    private readonly logger?: Logger,
  ) {
    this.dispatcher = options.jwksCa ? new Agent({ connect: { ca: options.jwksCa } }) : undefined;
  }

  readonly resolve = (header: JWTHeaderParameters): CryptoKey | Promise<CryptoKey> => {
    const entry = this.keys.get(header.kid as string);
    if (entry && this.fresh()) return this.match(entry, header);
    return this.resolveAfterRefresh(header, entry !== undefined);
  };

  /** The key `kid` verifies with now, if the set is fresh (no fetch; undefined otherwise). */
  current(kid: string): CryptoKey | undefined {
    return this.fresh() ? this.keys.get(kid)?.key : undefined;
  }

  private fresh(): boolean {
    return performance.now() - this.fetchedAt < this.options.jwksCacheMaxAgeMs;
  }

  private async resolveAfterRefresh(header: JWTHeaderParameters, known: boolean) {
    const now = performance.now();
    // an aged set is refetched unless a fetch just failed (then the last set keeps serving);
    // an unknown kid refetches only outside the cooldown of the last attempt
    const refetch = known
      ? now - this.failedAt >= this.options.jwksCooldownMs
      : now - this.attemptedAt >= this.options.jwksCooldownMs;
    // a fetch already running (the first requests after start arrive together) is awaited
    if (refetch || this.inflight) await this.refresh();
    if (!this.everFetched)
      throw new CallerTokenError(
        'issuer_unavailable',
        "the token issuer's key set cannot be fetched",
      );
    const entry = this.keys.get(header.kid as string);
    if (!entry) throw invalid('signed with an unknown key');
    return this.match(entry, header);
  }

  private match(entry: { alg: string; key: CryptoKey }, header: JWTHeaderParameters): CryptoKey {
    if (entry.alg !== header.alg) throw invalid('the key is not published for that algorithm');
    return entry.key;
  }

  private refresh(): Promise<void> {
    this.inflight ??= this.fetchKeys().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    this.attemptedAt = performance.now();
    try {
      const res = await undiciFetch(this.options.jwksUrl, {
        dispatcher: this.dispatcher,
        signal: AbortSignal.timeout(this.options.jwksTimeoutMs),
        headers: { accept: 'application/json' },
      });
      if (res.status !== 200) throw new Error(`key set answered ${res.status}`);
      this.keys = await this.importAll(((await res.json()) as { keys?: unknown }).keys);
      this.fetchedAt = performance.now();
      this.everFetched = true;
    } catch (err) {
      this.failedAt = performance.now();
      this.logger?.warn(
        { jwks: this.options.jwksUrl, cached: this.everFetched, reason: (err as Error).name },
        'caller token issuer key set unreachable',
      );
    }
  }

  private async importAll(
    published: unknown,
  ): Promise<Map<string, { alg: string; key: CryptoKey }>> {
    if (!Array.isArray(published)) throw new Error('not a JWK set');
    const allowed = new Set(this.options.algorithms);
    const seen = new Map<string, number>();
    for (const jwk of published as IssuerJwk[])
      if (typeof jwk?.kid === 'string') seen.set(jwk.kid, (seen.get(jwk.kid) ?? 0) + 1);
    const keys = new Map<string, { alg: string; key: CryptoKey }>();
    for (const jwk of published as IssuerJwk[]) {
      const { kid, alg, use } = jwk ?? {};
      if (typeof kid !== 'string' || seen.get(kid) !== 1) continue;
      if (typeof alg !== 'string' || !allowed.has(alg) || (use !== undefined && use !== 'sig'))
        continue;
      const key = await importJWK(jwk as JWK, alg).catch(() => undefined);
      if (key && !(key instanceof Uint8Array)) keys.set(kid, { alg, key });
    }
    return keys;
  }
}

/** How many verified tokens a service remembers; the oldest goes first. */
const VERIFIED_TOKENS_MAX = 64;

interface VerifiedToken {
  /** The whole token: a hit is this exact text, never only the part it is filed under. */
  readonly token: string;
  readonly claims: CallerClaims;
  readonly kid: string;
  /** The key object that verified it: a refetched key set holds new objects. */
  readonly key: CryptoKey;
  /** Epoch seconds: accepted from `from` (inclusive) to `until` (exclusive). */
  readonly from: number;
  readonly until: number;
}

/**
 * Tokens that passed every check, bounded in number. Only a token that verified is ever
 * stored, so a caller without a valid token cannot fill it; one with many valid tokens only
 * pushes the oldest out, and they are verified again. Filed under the signature's last 32
 * characters (192 random bits; hashing the whole ~1 KB text on every lookup cost a token seen
 * for the first time about 1 %), and a hit must equal the whole token.
 */
class VerifiedTokens {
  private readonly entries = new Map<string, VerifiedToken>();

  constructor(private readonly max: number) {}

  get(token: string): VerifiedToken | undefined {
    const entry = this.entries.get(token.slice(-32));
    return entry?.token === token ? entry : undefined;
  }

  set(entry: VerifiedToken): void {
    if (this.entries.size >= this.max) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(entry.token.slice(-32), entry);
  }

  delete(token: string): void {
    const file = token.slice(-32);
    if (this.entries.get(file)?.token === token) this.entries.delete(file);
  }
}

/**
 * Checks a caller token for one service: signature against the issuer's JWKS with an
 * allow-listed algorithm, exact `iss`, `aud` = the service, `exp`/`nbf`/`iat` with leeway, a
 * bounded age, no `typ` but `JWT` (Vault's identity tokens carry none; an `at+jwt` or any
 * other typed JWT is some other kind of token), and the claims only our role template sets:
 * `client_id` naming a declared caller and `scope` (ADR 0014).
 */
export class CallerTokenVerifier {
  private readonly keys: IssuerKeySet;
  /** Built once: every request is checked against the same rules (no per-call allocation). */
  private readonly rules: JWTVerifyOptions;
  private readonly verified = new VerifiedTokens(VERIFIED_TOKENS_MAX);
  private readonly tolerance: number;
  private readonly maxAge: number;

  constructor(
    readonly service: ServiceName,
    options: CallerAuthOptions,
    logger?: Logger,
  ) {
    this.keys = new IssuerKeySet(options, logger);
    this.rules = {
      issuer: options.issuer,
      audience: service,
      algorithms: [...options.algorithms],
      clockTolerance: options.clockToleranceSeconds,
      maxTokenAge: options.maxTokenAgeSeconds,
      requiredClaims: ['exp', 'iat', 'sub', 'client_id', 'scope'],
    };
    this.tolerance = options.clockToleranceSeconds;
    this.maxAge = options.maxTokenAgeSeconds;
  }

  private readonly resolveKey = (header: JWTHeaderParameters) => {
    if (header.typ !== undefined && header.typ.toUpperCase() !== 'JWT')
      throw invalid('not a caller access token (typ)');
    if (typeof header.kid !== 'string' || !header.kid) throw invalid('the token names no key');
    return this.keys.resolve(header);
  };

  /**
   * A token verified before (the same text) is served from `verified` while the clock is
   * inside its claims' window and its key is still the fresh key set's key for its `kid`:
   * the signature and the claims do not change, the time and the key set can. Anything else
   * takes the full path, which gives the refusal its precise reason.
   */
  async verify(token: string): Promise<CallerClaims> {
    const hit = this.verified.get(token);
    if (hit) {
      const now = Math.floor(Date.now() / 1000); // jose's clock: whole seconds
      if (now >= hit.from && now < hit.until && this.keys.current(hit.kid) === hit.key)
        return hit.claims;
      this.verified.delete(token);
    }
    let payload: Record<string, unknown>;
    let header: JWTHeaderParameters;
    let key: unknown;
    try {
      ({
        payload,
        protectedHeader: header,
        key,
      } = await jwtVerify(token, this.resolveKey, this.rules));
    } catch (err) {
      throw toCallerTokenError(err);
    }
    const claims = this.claimsOf(payload);
    this.verified.set({
      token,
      claims,
      key: key as CryptoKey,
      kid: header.kid as string,
      ...this.window(payload),
    });
    return claims;
  }

  /**
   * The seconds in which jose accepts these claims: `nbf` and `iat` minus the leeway, up to
   * `exp` plus the leeway and no later than `iat` plus the maximum age and the leeway.
   */
  private window(payload: Record<string, unknown>): { from: number; until: number } {
    const iat = Number(payload.iat);
    const nbf = typeof payload.nbf === 'number' ? payload.nbf : Number.NEGATIVE_INFINITY;
    return {
      from: Math.max(nbf, iat) - this.tolerance,
      // jose accepts now <= iat + maxAge + leeway; now is whole seconds, iat may not be
      until: Math.min(
        Number(payload.exp) + this.tolerance,
        Math.floor(iat + this.maxAge + this.tolerance) + 1,
      ),
    };
  }

  private claimsOf(payload: Record<string, unknown>): CallerClaims {
    const caller = payload.client_id;
    const scope = payload.scope;
    if (typeof caller !== 'string' || !isCallerName(caller))
      throw invalid('the token names no declared caller');
    if (typeof scope !== 'string') throw invalid('the token carries no scope');
    if (typeof payload.sub !== 'string') throw invalid('the token has no subject');
    // frozen: a remembered token hands the same object to every request that presents it
    return Object.freeze({
      caller,
      scopes: Object.freeze(scope.split(' ').filter(Boolean)),
      subject: payload.sub,
      expiresAt: Number(payload.exp),
    });
  }
}

/** jose's verdicts as our two outcomes; the descriptions are ours, never jose's text. */
function toCallerTokenError(err: unknown): CallerTokenError {
  if (err instanceof CallerTokenError) return err;
  // jose reports a token past its maximum age as expired, naming `iat`
  if (err instanceof errors.JWTExpired)
    return invalid(err.claim === 'iat' ? 'token too old' : 'token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iat' && err.reason === 'check_failed')
      return invalid('token issued in the future');
    return invalid(`claim ${err.claim} ${err.reason === 'missing' ? 'missing' : 'rejected'}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid('signing algorithm not allowed');
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('bad signature');
  if (err instanceof errors.JWKSNoMatchingKey) return invalid('signed with an unknown key');
  if (err instanceof errors.JOSEError) return invalid(`malformed token (${err.code})`);
  return new CallerTokenError('issuer_unavailable', 'the token could not be checked');
}
