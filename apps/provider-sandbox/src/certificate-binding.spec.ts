import { createPublicKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { SignJWT, decodeJwt } from 'jose';
import { httpsCall, startSandbox, type PemPair, type SandboxHandle } from '@lpi/testing';

// RFC 8705 §2.1.2 / §3: a token is bound only to a certificate of the client that authenticated,
// whatever the auth method. Found by an outside attacker: payment-service's secret presented over
// a TLS session with reporting-service's (CA-issued, registered) certificate got a payments:write
// token bound to reporting-service's certificate, and the API charged with it.

jest.setTimeout(120_000);

let sb: SandboxHandle;
const secrets: Record<string, string> = {};
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const assertionKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
let keyClientCert: PemPair;

type Auth = { basic: string } | { post: string } | { tls: true } | { assertion: true };

async function token(clientId: string, scope: string, auth: Auth, pair: PemPair | undefined) {
  const params = new URLSearchParams({ grant_type: 'client_credentials', scope });
  const headers: Record<string, string> = { ...form };
  if ('basic' in auth) headers.authorization = basic(clientId, auth.basic);
  if ('post' in auth) {
    params.set('client_id', clientId);
    params.set('client_secret', auth.post);
  }
  if ('tls' in auth) params.set('client_id', clientId);
  if ('assertion' in auth) {
    const now = Math.floor(Date.now() / 1000);
    const jwt = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer(clientId)
      .setSubject(clientId)
      .setAudience(sb.issuer)
      .setJti(randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .sign(assertionKey);
    params.set('client_id', clientId);
    params.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    params.set('client_assertion', jwt);
  }
  return httpsCall<Record<string, string>>(sb.tokenEndpoint, {
    method: 'POST',
    ca: sb.caCert,
    cert: pair?.cert,
    key: pair?.key,
    headers,
    body: params.toString(),
  });
}

const pay = (accessToken: string, pair: PemPair) =>
  httpsCall<{ error?: { code: string } }>(`${sb.apiBaseUrl}/v1/payments`, {
    method: 'POST',
    ca: sb.caCert,
    cert: pair.cert,
    key: pair.key,
    headers: {
      authorization: `Bearer ${accessToken}`,
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
    },
    body: JSON.stringify({ amount: 100, currency: 'EUR' }),
  });

beforeAll(async () => {
  sb = await startSandbox({ rateLimitPerMinute: 10_000 });
  const own = (id: string) => ({ tls_client_auth_subject_dn: `CN=${id}` });
  for (const [id, scopes, method] of [
    ['payment-service', ['payments:write', 'payments:read'], 'client_secret_basic'],
    ['refund-service', ['refunds:write', 'refunds:read'], 'client_secret_post'],
    ['reporting-service', ['transactions:read'], 'client_secret_basic'],
    ['webhook-service', ['webhooks:manage'], 'tls_client_auth'],
  ] as const) {
    const r = await sb.admin.registerClient(id, {
      scopes: [...scopes],
      token_endpoint_auth_method: method,
      ...own(id),
    });
    if (r.client_secret) secrets[id] = r.client_secret;
  }
  const jwk = createPublicKey(assertionKey).export({ format: 'jwk' }) as Record<string, string>;
  await sb.admin.registerClient('key-client', {
    scopes: ['refunds:write'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: 'k1' }] },
  });
  keyClientCert = await sb.pki.issueClient('key-client');
});
afterAll(async () => {
  await sb?.stop();
});

const sibling = () => sb.pki.clients['reporting-service'];

describe('certificate binding (RFC 8705)', () => {
  it("refuses a token bound to a sibling's certificate, for every auth method", async () => {
    const attempts: [string, string, Auth][] = [
      ['payment-service', 'payments:write', { basic: secrets['payment-service'] }],
      ['refund-service', 'refunds:write', { post: secrets['refund-service'] }],
      ['webhook-service', 'webhooks:manage', { tls: true }],
      ['key-client', 'refunds:write', { assertion: true }],
    ];
    for (const [client, scope, auth] of attempts) {
      const res = await token(client, scope, auth, sibling());
      expect({ client, status: res.status, error: res.json.error }).toEqual({
        client,
        status: 401,
        error: 'invalid_client',
      });
      expect(res.json.access_token).toBeUndefined();
    }
    // the same credentials with the client's own certificate work, bound to that certificate
    const own: Record<string, PemPair> = { ...sb.pki.clients, 'key-client': keyClientCert };
    for (const [client, scope, auth] of attempts) {
      const res = await token(client, scope, auth, own[client]);
      expect({ client, status: res.status }).toEqual({ client, status: 200 });
      expect((decodeJwt(res.json.access_token).cnf as Record<string, string>)['x5t#S256']).toBe(
        own[client].thumbprint,
      );
    }
  });

  it('never lets a stolen secret plus a sibling certificate move money', async () => {
    const stolen = await token(
      'payment-service',
      'payments:write',
      { basic: secrets['payment-service'] },
      sibling(),
    );
    expect(stolen.status).toBe(401);
    expect((await sb.admin.ledger()).payments).toHaveLength(0);
  });

  it('pins registered thumbprints: rotation trusts current and next, then only the new one', async () => {
    const id = 'payment-service';
    const old = sb.pki.clients[id];
    const next = await sb.pki.issueClient(id); // same CN, same CA: only the pin tells them apart
    const register = (pins: string[]) =>
      sb.admin.registerClient(id, {
        scopes: ['payments:write', 'payments:read'],
        token_endpoint_auth_method: 'client_secret_basic',
        tls_client_auth_subject_dn: `CN=${id}`,
        tls_client_certificate_thumbprints: pins,
      });
    const get = (pair: PemPair) =>
      token(id, 'payments:write', { basic: secrets[id] }, pair).then((r) => r.status);
    try {
      await register([old.thumbprint]);
      expect(await get(old)).toBe(200);
      expect(await get(next)).toBe(401);
      await register([old.thumbprint, next.thumbprint]);
      const beforeRotation = (await token(id, 'payments:write', { basic: secrets[id] }, old)).json
        .access_token;
      expect(await get(old)).toBe(200);
      expect(await get(next)).toBe(200);
      await register([next.thumbprint]);
      expect(await get(old)).toBe(401);
      expect(await get(next)).toBe(200);
      // a token bound to the retired certificate stops working at the API too
      const charged = await pay(beforeRotation, old);
      expect({ status: charged.status, code: charged.json.error?.code }).toEqual({
        status: 401,
        code: 'invalid_token',
      });
    } finally {
      await register([old.thumbprint, next.thumbprint]);
    }
  });

  it('rejects malformed thumbprint registrations with the envelope', async () => {
    for (const pins of [[], ['x'], ['a'.repeat(43), 'b'.repeat(43), 'c'.repeat(43)]]) {
      await expect(
        sb.admin.registerClient('pinned-client', {
          scopes: ['payments:read'],
          token_endpoint_auth_method: 'client_secret_basic',
          tls_client_certificate_thumbprints: pins,
        }),
      ).rejects.toThrow(/400/);
    }
  });
});
