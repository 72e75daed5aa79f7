export type AuthErrorCode =
  | 'INVALID_CLIENT'
  | 'INVALID_CLIENT_CONFIG'
  | 'INVALID_SCOPE'
  | 'TOKEN_ENDPOINT_UNAVAILABLE'
  | 'TOKEN_RESPONSE_MALFORMED'
  | 'TOKEN_REQUEST_REFUSED'
  | 'RATE_LIMITED'
  | 'PROVIDER_UNAUTHORIZED'
  | 'PROVIDER_FORBIDDEN'
  | 'PROVIDER_REQUEST_FAILED'
  | 'UNKNOWN_CLIENT'
  | 'IDENTITY_TOKEN_REFUSED'
  | 'IDENTITY_TOKEN_UNAVAILABLE';

const ADVICE: Record<AuthErrorCode, string> = {
  INVALID_CLIENT:
    'check the client id/secret or certificate in Vault; rotation may have retired this secret',
  INVALID_CLIENT_CONFIG:
    'the credentials in Vault do not fit the auth method the access matrix names for this client',
  INVALID_SCOPE: 'request only scopes this client is registered for (see the access matrix)',
  TOKEN_ENDPOINT_UNAVAILABLE:
    'the authorization server is unreachable or failing; the call can be retried later',
  TOKEN_RESPONSE_MALFORMED:
    'the authorization server answered something that is not a valid token response',
  TOKEN_REQUEST_REFUSED: 'the authorization server refused the grant; see the error code',
  RATE_LIMITED: 'wait for retryAfterMs before calling again',
  PROVIDER_UNAUTHORIZED:
    'the provider rejected a freshly issued token too; check clock, audience and certificate binding',
  PROVIDER_FORBIDDEN:
    'the token lacks the scope for this operation; this will not succeed on retry',
  PROVIDER_REQUEST_FAILED: 'the provider call failed; see status',
  UNKNOWN_CLIENT: 'register the named client in the token manager configuration',
  IDENTITY_TOKEN_REFUSED:
    "Vault refused to mint the caller token: the caller's policy must grant read on identity/oidc/token/<role> (see the access matrix) and its token must carry an entity",
  IDENTITY_TOKEN_UNAVAILABLE: 'Vault is unreachable or failing; the call can be retried later',
};

/** Every error this library throws: a stable code, advice, never a secret or token. */
export class AuthError extends Error {
  constructor(
    readonly code: AuthErrorCode,
    detail: string,
    readonly extra: { status?: number; oauthError?: string; retryAfterMs?: number } = {},
  ) {
    super(`${code}: ${detail} (${ADVICE[code]})`);
    this.name = 'AuthError';
  }

  get retryable(): boolean {
    return (
      this.code === 'TOKEN_ENDPOINT_UNAVAILABLE' ||
      this.code === 'RATE_LIMITED' ||
      this.code === 'IDENTITY_TOKEN_UNAVAILABLE'
    );
  }
}

export class RateLimitedError extends AuthError {
  constructor(
    readonly retryAfterMs: number,
    status = 429,
  ) {
    super('RATE_LIMITED', `provider rate limit reached, retry in ${retryAfterMs} ms`, {
      status,
      retryAfterMs,
    });
    this.name = 'RateLimitedError';
  }
}
