import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { ServiceName } from '@lpi/access-matrix';
import { loadConfig, setting } from '@lpi/service-bootstrap';

/** Algorithms a caller token may be signed with (Vault's named-key algorithms, minus none). */
export const CALLER_TOKEN_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;

export interface CallerAuthOptions {
  /** Exact `iss` of caller tokens: Vault's effective issuer, `<addr>/v1/identity/oidc`. */
  issuer: string;
  /** The issuer's JWKS (`<addr>/v1/identity/oidc/.well-known/keys`, unauthenticated). */
  jwksUrl: string;
  /** PEM trust anchor for an https JWKS URL (Vault's CA); the system store otherwise. */
  jwksCa?: string;
  algorithms: readonly string[];
  /** Leeway on `exp`, `nbf` and `iat` for clock skew between Vault and the service. */
  clockToleranceSeconds: number;
  /** A token older than this (by `iat`) is refused whatever its `exp` says. */
  maxTokenAgeSeconds: number;
  /** The key set is refetched when it is older than this (a rotated key arrives by then). */
  jwksCacheMaxAgeMs: number;
  /** An unknown `kid` refetches the key set at most once per this long. */
  jwksCooldownMs: number;
  jwksTimeoutMs: number;
}

const intWithin = (fallback: number, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .refine((n) => n >= min && n <= max, `must be between ${min} and ${max}`)
    .default(fallback);

const callerAuthSettings = {
  VAULT_ADDR: setting.url(),
  VAULT_CACERT: z.string().optional(),
  CALLER_TOKEN_ISSUER: setting.url().optional(),
  CALLER_JWKS_URL: setting.url().optional(),
  CALLER_TOKEN_ALGORITHMS: z
    .string()
    .default('RS256')
    .transform((v) => v.split(',').map((a) => a.trim()))
    .refine(
      (algs) =>
        algs.length > 0 &&
        algs.every((a) => (CALLER_TOKEN_ALGORITHMS as readonly string[]).includes(a)),
      `must be a comma-separated list of ${CALLER_TOKEN_ALGORITHMS.join(', ')}`,
    ),
  CALLER_TOKEN_LEEWAY_SECONDS: intWithin(5, 0, 10),
  CALLER_TOKEN_MAX_AGE_SECONDS: intWithin(900, 1, 86_400),
  CALLER_JWKS_CACHE_MAX_AGE_MS: intWithin(600_000, 1_000, 86_400_000),
  CALLER_JWKS_COOLDOWN_MS: intWithin(30_000, 0, 3_600_000),
  CALLER_JWKS_TIMEOUT_MS: intWithin(5_000, 100, 60_000),
};

/** The variables readCallerAuthConfig reads. */
export const CALLER_AUTH_SETTING_NAMES: readonly string[] = Object.keys(callerAuthSettings);

/**
 * How a service checks its callers' tokens. Everything defaults from `VAULT_ADDR`: the
 * merchant's own Vault is the issuer (ADR 0014).
 */
export function readCallerAuthConfig(
  service: ServiceName,
  env: Record<string, string | undefined> = process.env,
): CallerAuthOptions {
  const c = loadConfig(service, callerAuthSettings, env);
  const vault = c.VAULT_ADDR.replace(/\/+$/, '');
  const jwksUrl = c.CALLER_JWKS_URL ?? `${vault}/v1/identity/oidc/.well-known/keys`;
  let jwksCa: string | undefined;
  if (c.VAULT_CACERT && jwksUrl.startsWith('https:')) {
    try {
      jwksCa = readFileSync(c.VAULT_CACERT, 'utf8');
    } catch {
      throw new Error(`${service}: VAULT_CACERT points at a file that cannot be read`);
    }
  }
  return {
    issuer: c.CALLER_TOKEN_ISSUER ?? `${vault}/v1/identity/oidc`,
    jwksUrl,
    jwksCa,
    algorithms: c.CALLER_TOKEN_ALGORITHMS,
    clockToleranceSeconds: c.CALLER_TOKEN_LEEWAY_SECONDS,
    maxTokenAgeSeconds: c.CALLER_TOKEN_MAX_AGE_SECONDS,
    jwksCacheMaxAgeMs: c.CALLER_JWKS_CACHE_MAX_AGE_MS,
    jwksCooldownMs: c.CALLER_JWKS_COOLDOWN_MS,
    jwksTimeoutMs: c.CALLER_JWKS_TIMEOUT_MS,
  };
}
