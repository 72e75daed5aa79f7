import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type JWTHeaderParameters,
  type JWTVerifyOptions,
  type FlattenedJWSInput,
  type CryptoKey,
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

type KeyResolver = (
  header: JWTHeaderParameters,
  token: FlattenedJWSInput,
) => Promise<CryptoKey | Uint8Array>;

const invalid = (description: string) => new CallerTokenError('invalid_token', description);

/** The jose failures that mean "the key set could not be fetched", not "the token is bad". */
function isFetchFailure(err: unknown): boolean {
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys)
    return false;
  if (err instanceof errors.JWKSTimeout || err instanceof errors.JWKSInvalid) return true;
  // jose reports a non-200 or unparsable key set as a generic JOSEError; network errors are not
  // JOSE errors at all
  return !(err instanceof errors.JOSEError) || err.code === 'ERR_JOSE_GENERIC';
}

/**
 * The issuer's key set: jose's remote JWKS (cached for `jwksCacheMaxAgeMs`, an unknown `kid`
 * refetches at most once per `jwksCooldownMs`, concurrent fetches shared). When a fetch fails
 * and a key set was fetched before, the last one keeps verifying (and no fetch is tried again
 * for the cooldown); with none, the token cannot be checked: `issuer_unavailable`.
 */
export class IssuerKeySet {
  private readonly remote: ReturnType<typeof createRemoteJWKSet>;
  private failedAt = Number.NEGATIVE_INFINITY;
  private stale?: { resolve: KeyResolver };

  constructor(
    private readonly options: CallerAuthOptions,
    private readonly logger?: Logger,
  ) {
    const agent = options.jwksCa ? new Agent({ connect: { ca: options.jwksCa } }) : undefined;
    this.remote = createRemoteJWKSet(new URL(options.jwksUrl), {
      cacheMaxAge: options.jwksCacheMaxAgeMs,
      cooldownDuration: options.jwksCooldownMs,
      timeoutDuration: options.jwksTimeoutMs,
      ...(agent
        ? {
            [customFetch]: (url: string, init: RequestInit) =>
              undiciFetch(url, { ...(init as object), dispatcher: agent }),
          }
        : {}),
    });
  }

  readonly resolve: KeyResolver = async (header, token) => {
    // the normal path touches jose only (its jwks() snapshot is a structured clone: not per call)
    const failing = this.stale && performance.now() - this.failedAt < this.options.jwksCooldownMs;
    if (!failing) {
      try {
        return await this.remote(header, token);
      } catch (err) {
        if (!isFetchFailure(err)) throw err;
        this.failedAt = performance.now();
        const last = this.remote.jwks();
        this.logger?.warn(
          { jwks: this.options.jwksUrl, cached: Boolean(last) },
          'caller token issuer key set unreachable',
        );
        if (!last)
          throw new CallerTokenError(
            'issuer_unavailable',
            "the token issuer's key set cannot be fetched",
          );
        this.stale = { resolve: createLocalJWKSet(last) };
      }
    }
    return this.stale!.resolve(header, token);
  };
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
  }

  private readonly resolveKey: KeyResolver = (header, token) => {
    if (header.typ !== undefined && header.typ.toUpperCase() !== 'JWT')
      throw invalid('not a caller access token (typ)');
    if (typeof header.kid !== 'string' || !header.kid) throw invalid('the token names no key');
    return this.keys.resolve(header, token);
  };

  async verify(token: string): Promise<CallerClaims> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.resolveKey, this.rules));
    } catch (err) {
      throw toCallerTokenError(err);
    }
    const caller = payload.client_id;
    const scope = payload.scope;
    if (typeof caller !== 'string' || !isCallerName(caller))
      throw invalid('the token names no declared caller');
    if (typeof scope !== 'string') throw invalid('the token carries no scope');
    if (typeof payload.sub !== 'string') throw invalid('the token has no subject');
    return {
      caller,
      scopes: scope.split(' ').filter(Boolean),
      subject: payload.sub,
      expiresAt: Number(payload.exp),
    };
  }
}

/** jose's verdicts as our two outcomes; the descriptions are ours, never jose's text. */
function toCallerTokenError(err: unknown): CallerTokenError {
  if (err instanceof CallerTokenError) return err;
  if (err instanceof errors.JWTExpired) return invalid('token expired');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'iat' && err.reason === 'check_failed') return invalid('token too old');
    return invalid(`claim ${err.claim} ${err.reason === 'missing' ? 'missing' : 'rejected'}`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed) return invalid('signing algorithm not allowed');
  if (err instanceof errors.JWSSignatureVerificationFailed) return invalid('bad signature');
  if (err instanceof errors.JWKSNoMatchingKey) return invalid('signed with an unknown key');
  if (err instanceof errors.JOSEError) return invalid(`malformed token (${err.code})`);
  return new CallerTokenError('issuer_unavailable', 'the token could not be checked');
}
