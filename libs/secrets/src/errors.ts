export type SecretsErrorCode =
  | 'VAULT_UNREACHABLE'
  | 'VAULT_TLS_UNTRUSTED'
  | 'VAULT_LOGIN_DENIED'
  | 'WRAPPING_TOKEN_INVALID'
  | 'SECRET_NOT_FOUND'
  | 'SECRET_FIELD_MISSING'
  | 'VAULT_FORBIDDEN'
  | 'LEASE_GONE'
  | 'VAULT_ERROR';

/** Start-up and run-time failures talking to Vault. Never carries a token or secret value. */
export class SecretsError extends Error {
  constructor(
    readonly code: SecretsErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'SecretsError';
  }
}
