import { randomBytes } from 'node:crypto';

const b64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * Free text shaped like secrets (a JWT, a Vault token), for tests of the edges that must refuse
 * or redact them. Assembled at run time from random bytes, so that no token-shaped literal sits
 * in the repository (the repository's own secret scan would rightly flag it).
 */
export function secretShapedText(): { jwt: string; vaultToken: string } {
  const signature = randomBytes(16).toString('base64url');
  return {
    jwt: [b64url({ alg: 'HS256' }), b64url({ sub: '1' }), signature].join('.'),
    vaultToken: ['hvs', randomBytes(18).toString('base64url')].join('.'),
  };
}
