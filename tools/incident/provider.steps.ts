// The provider side of an incident, through its admin API: the client's registration is
// replaced with the new certificate (and, for private_key_jwt, the new public key) only,
// a client secret is rotated with no overlap, and its refresh tokens are revoked.
import { X509Certificate, createHash, generateKeyPairSync } from 'node:crypto';
import { grantOf, type ServiceName } from '@lpi/access-matrix';
import { assertionPublicJwk } from '@lpi/auth';
import { httpsCall } from '@lpi/testing';
import { IncidentError, type ProviderAdminPort } from './ports';

async function admin<T>(
  p: ProviderAdminPort,
  what: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const res = await httpsCall<T>(`${p.baseUrl}/admin${path}`, {
    method,
    ca: p.caCert,
    headers: {
      authorization: `Bearer ${p.token}`,
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  }).catch((err: Error) => {
    throw new IncidentError(
      'provider_unreachable',
      `the provider admin API is unreachable (${err.message})`,
    );
  });
  if (res.status >= 300)
    throw new IncidentError(
      'provider_refused',
      `the provider refused to ${what} (HTTP ${res.status})`,
    );
  return res.json;
}

export const thumbprintOf = (certPem: string): string =>
  createHash('sha256').update(new X509Certificate(certPem).raw).digest('base64url');

/** A fresh P-256 assertion key (PKCS#8 PEM), for a private_key_jwt client. */
export function newAssertionKey(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
    .privateKey.export({ type: 'pkcs8', format: 'pem' })
    .toString();
}

/**
 * Replaces the client's registration: its grant from the access matrix, bound to the new
 * certificate only (RFC 8705), and for private_key_jwt the new public key only.
 */
export async function reregister(
  p: ProviderAdminPort,
  service: ServiceName,
  certPem: string,
  assertionKey?: string,
): Promise<void> {
  const g = grantOf(service);
  await admin(p, 'update the client registration', 'PUT', `/clients/${service}`, {
    scopes: [...g.oauth.scopes],
    token_endpoint_auth_method: g.oauth.tokenEndpointAuthMethod,
    tls_client_auth_subject_dn: `CN=${service}`,
    tls_client_certificate_thumbprints: [thumbprintOf(certPem)],
    ...(assertionKey ? { jwks: { keys: [assertionPublicJwk(assertionKey)] } } : {}),
    refresh_tokens: g.oauth.refreshTokens,
    certificate_bound: true,
  });
}

/** A new client secret, the old one retired at once (an incident has no overlap window). */
export async function rotateClientSecret(
  p: ProviderAdminPort,
  service: ServiceName,
): Promise<string> {
  const json = await admin<{ client_secret: string }>(
    p,
    'rotate the client secret',
    'POST',
    `/clients/${service}/secrets`,
  );
  await admin(p, 'retire the old client secret', 'DELETE', `/clients/${service}/secrets/previous`);
  return json.client_secret;
}

/** Every refresh token and access token the provider issued to the client until now. */
export async function revokeIssuedTokens(
  p: ProviderAdminPort,
  service: ServiceName,
): Promise<void> {
  await admin(p, 'revoke the client tokens', 'POST', `/clients/${service}/revoke-tokens`);
}
