import { randomUUID, sign } from 'node:crypto';

/**
 * How a holder of a service's Vault secret authenticates at the token endpoint, whatever
 * the service's method: HTTP Basic with its client secret, or (private_key_jwt) a fresh
 * ES256 client assertion signed with its key. For drills and tools that act as a service
 * without its token manager (an attacker with the loot, the hand-rolled bench arm).
 */
export function tokenEndpointAuth(
  secret: Record<string, string>,
  issuer: string,
): { headers: Record<string, string>; form: Record<string, string> } {
  if (secret.client_assertion_key) {
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    // no kid: the provider tries the client's registered key (one, outside a rotation)
    const input = `${b64({ alg: 'ES256', typ: 'JWT' })}.${b64({
      iss: secret.client_id,
      sub: secret.client_id,
      aud: issuer,
      jti: randomUUID(),
      iat: now,
      exp: now + 60,
    })}`;
    const signature = sign('sha256', Buffer.from(input), {
      key: secret.client_assertion_key,
      dsaEncoding: 'ieee-p1363',
    }).toString('base64url');
    return {
      headers: {},
      form: {
        client_id: secret.client_id,
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: `${input}.${signature}`,
      },
    };
  }
  const basic = Buffer.from(
    `${encodeURIComponent(secret.client_id)}:${encodeURIComponent(secret.client_secret ?? '')}`,
  ).toString('base64');
  return { headers: { authorization: `Basic ${basic}` }, form: {} };
}
