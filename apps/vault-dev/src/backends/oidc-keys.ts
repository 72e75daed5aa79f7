import {
  createPublicKey,
  generateKeyPair,
  randomUUID,
  sign,
  verify,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';

/** Vault's signing algorithms for named keys (identity_store_oidc.go supportedAlgs). */
export const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

export interface SigningKey {
  kid: string;
  alg: Algorithm;
  privateKey: KeyObject;
  jwk: JsonWebKey;
}

const generate = promisify(generateKeyPair);

async function keyPair(alg: Algorithm): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  if (alg.startsWith('RS')) return generate('rsa', { modulusLength: 2048 });
  if (alg === 'EdDSA') return generate('ed25519');
  const curve = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' }[alg as 'ES256'];
  return generate('ec', { namedCurve: curve });
}

/** A fresh key: `kid` a UUID, a public JWK with `use: "sig"` and `alg`, like go-jose's. */
export async function generateSigningKey(alg: Algorithm): Promise<SigningKey> {
  const { privateKey, publicKey } = await keyPair(alg);
  const kid = randomUUID();
  const jwk = { use: 'sig', ...publicKey.export({ format: 'jwk' }), kid, alg } as JsonWebKey;
  return { kid, alg, privateKey, jwk };
}

const hashOf = (alg: string): string | null => (alg === 'EdDSA' ? null : `sha${alg.slice(2)}`);

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Compact JWS; the header is `{"alg","kid"}` with no `typ`, as Vault's tokens. */
export function signJwt(key: SigningKey, payload: Record<string, unknown>): string {
  const input = `${b64({ alg: key.alg, kid: key.kid })}.${b64(payload)}`;
  const signature = sign(hashOf(key.alg), Buffer.from(input), {
    key: key.privateKey,
    dsaEncoding: 'ieee-p1363',
  });
  return `${input}.${signature.toString('base64url')}`;
}

export interface ParsedJwt {
  header: { alg?: string; kid?: string };
  payload: Record<string, unknown>;
  signingInput: string;
  signature: Buffer;
}

export function parseJwt(token: string): ParsedJwt {
  const parts = token.split('.');
  if (parts.length !== 3)
    throw new Error('go-jose/go-jose: compact JWS format must have three parts');
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as unknown;
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (!header || typeof header !== 'object' || !payload || typeof payload !== 'object')
      throw new Error('not an object');
    return {
      header: header as ParsedJwt['header'],
      payload: payload as Record<string, unknown>,
      signingInput: `${parts[0]}.${parts[1]}`,
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    throw new Error('go-jose/go-jose: invalid compact serialization');
  }
}

export function verifyJwt(jwt: ParsedJwt, jwk: JsonWebKey): boolean {
  if (jwt.header.alg !== jwk.alg) return false;
  try {
    return verify(
      hashOf(String(jwk.alg)),
      Buffer.from(jwt.signingInput),
      { key: createPublicKey({ key: jwk, format: 'jwk' }), dsaEncoding: 'ieee-p1363' },
      jwt.signature,
    );
  } catch {
    return false;
  }
}

/** Go's encoding/json writes map keys sorted; the claims are a map in Vault. */
export function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  return v;
}
