import {
  createHash,
  createPrivateKey,
  createPublicKey,
  webcrypto,
  type KeyObject,
} from 'node:crypto';
import type { ClientCredential } from './credentials';
import { AuthError } from './errors';

// ecPrivatekey_jwt (RFC 7523 client authentication): the client signs a short-lived assertion
// (iss = sub = client_id, aud = the issuer, a fresh jti, exp in about a minute; openid-client
// builds it) with its own P-256 key. The provider holds only the public half, so there is no
// shared secret to leak from the provider, from Vault's transit or from a log line.

function ecKey(pem: string | undefined): KeyObject {
  if (!pem)
    throw new AuthError('INVALID_CLIENT_CONFIG', 'ecPrivatekey_jwt needs a client assertion key');
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new AuthError('INVALID_CLIENT_CONFIG', 'the client assertion key is not a private key');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
    throw new AuthError(
      'INVALID_CLIENT_CONFIG',
      'the client assertion key must be EC P-256 (ES256)',
    );
  return key;
}

type AssertionPublicJwk = {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
};

function publicJwkOf(key: KeyObject): AssertionPublicJwk {
  const jwk = createPublicKey(key).export({ format: 'jwk' }) as { x: string; y: string };
  const canonical = JSON.stringify({ crv: 'P-256', kty: 'EC', x: jwk.x, y: jwk.y });
  const kid = createHash('sha256').update(canonical).digest('base64url');
  return { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid, alg: 'ES256', use: 'sig' };
}

/** The public JWK the provider registers for this key, with its RFC 7638 thumbprint as `kid`. */
export function assertionPublicJwk(privateKeyPem: string): AssertionPublicJwk {
  return publicJwkOf(ecKey(privateKeyPem));
}

/** The key openid-client signs assertions with (non-extractable), and its `kid`. */
export async function assertionSigningKey(
  cred: ClientCredential,
): Promise<{ key: webcrypto.CryptoKey; kid: string }> {
  const ecPrivate = ecKey(cred.assertionKey);
  const key = await webcrypto.subtle.importKey(
    'pkcs8',
    ecPrivate.export({ type: 'pkcs8', format: 'der' }),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  return { key, kid: publicJwkOf(ecPrivate).kid };
}
