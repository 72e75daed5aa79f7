/**
 * Secrets must never reach a log line or an error message. Two nets:
 * 1. structured redaction by path (pino `redact`) for the places secrets are known to live;
 * 2. a value scrubber for the places they are not supposed to be (an error message that
 *    quotes a header, a stringified HTTP client error...): JWTs, PEM private keys, Basic
 *    credentials, Vault tokens and `whsec_` signing secrets are replaced wherever they appear.
 */
export const REDACTED = '[REDACTED]';

const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'cookie',
  'set-cookie',
  'x-vault-token',
  'X-Vault-Token',
  'proxy-authorization',
  'client_secret',
  'clientSecret',
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'secret_id',
  'secretId',
  'client_token',
  'password',
  'private_key',
  'privateKey',
  'client_key',
  'key',
  'token',
  'webhook_secret',
  'secret',
];

/**
 * pino redact paths: the keys above at the top level and in HTTP headers. The same keys one
 * level down are `redactNested`'s: as a pino `*.key` path, the wildcard redactor ran over every
 * field of every line, numbers and strings included (issue 22: ~1-2 % of a service's CPU).
 */
export const REDACT_PATHS: string[] = [
  ...new Set([
    ...SECRET_KEYS,
    ...['authorization', 'cookie', 'x-vault-token', 'proxy-authorization'].flatMap((h) => [
      `req.headers.${h}`,
      `res.headers["set-cookie"]`,
      `headers.${h}`,
      `config.headers.${h}`,
      `config.headers.Authorization`,
      `request.headers.${h}`,
      `err.config.headers.Authorization`,
      `err.config.headers.authorization`,
    ]),
    'err.config.data',
    'config.data',
  ]),
];

const SECRET_KEY_SET = new Set(SECRET_KEYS);

/**
 * A log record with the secret keys one level down censored (`{ body: { password } }`), as
 * pino's `*.key` paths did; fields with a serializer are left to it (it keeps no such keys).
 * Copies only what it censors, so the common line costs one pass over its object fields.
 */
export function redactNested(
  record: Record<string, unknown>,
  serialized: ReadonlySet<string> = new Set(),
): Record<string, unknown> {
  let out = record;
  for (const field in record) {
    const value = record[field];
    if (value === null || typeof value !== 'object' || Array.isArray(value)) continue;
    if (serialized.has(field)) continue;
    let copy: Record<string, unknown> | undefined;
    for (const key of Object.keys(value))
      if (SECRET_KEY_SET.has(key)) (copy ??= { ...value })[key] = REDACTED;
    if (!copy) continue;
    if (out === record) out = { ...record };
    out[field] = copy;
  }
  return out;
}

const PATTERNS: RegExp[] = [
  // JWS compact serialisation (access tokens, client assertions)
  /eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*/g,
  // PEM private keys of any kind
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  // Authorization header values
  /\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]{8,}/g,
  // Vault service/batch tokens and our dev server's tokens
  /\bhv[sbr]\.[A-Za-z0-9_-]{16,}/g,
  // Standard Webhooks signing secrets
  /\bwhsec_[A-Za-z0-9+/=]{16,}/g,
];

export function scrubSecrets(text: string): string {
  let out = text;
  for (const p of PATTERNS) out = out.replace(p, REDACTED);
  return out;
}

/** Deep copy of a log record with every string value scrubbed. Cycles are cut. */
export function scrubValue(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[Circular]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, seen));
  if (value instanceof Error) {
    return {
      type: value.name,
      message: scrubSecrets(value.message),
      code: (value as { code?: unknown }).code,
    };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubValue(v, seen);
  return out;
}
