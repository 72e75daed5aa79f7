import { generateKeyPairSync, createPublicKey, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { SignJWT } from 'jose';
import { httpsCall, startSandbox, type PemPair, type SandboxHandle } from '@lpi/testing';

// Issue 16 item 5: the smaller leniencies of the provider sandbox, each closed.

jest.setTimeout(180_000);

let sb: SandboxHandle;
let pair: PemPair;
const secrets: Record<string, string> = {};
const form = { 'content-type': 'application/x-www-form-urlencoded' };
const basic = (id: string) => `Basic ${Buffer.from(`${id}:${secrets[id]}`).toString('base64')}`;
const assertionKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

const tokenCall = (body: string, headers: Record<string, string> = {}, cert = pair) =>
  httpsCall<Record<string, string>>(sb.tokenEndpoint, {
    method: 'POST',
    ca: sb.caCert,
    cert: cert.cert,
    key: cert.key,
    headers: { ...form, ...headers },
    body,
  });

beforeAll(async () => {
  sb = await startSandbox({ rateLimitPerMinute: 10_000 });
  pair = sb.pki.clients['reporting-service'];
  secrets['reporting-service'] = (
    await sb.admin.registerClient('reporting-service', {
      scopes: ['transactions:read', 'payments:read'],
      token_endpoint_auth_method: 'client_secret_basic',
      refresh_tokens: true,
    })
  ).client_secret!;
  const jwk = createPublicKey(assertionKey).export({ format: 'jwk' }) as Record<string, string>;
  await sb.admin.registerClient('refund-service', {
    scopes: ['refunds:write'],
    token_endpoint_auth_method: 'private_key_jwt',
    jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: 'k1' }] },
  });
});
afterAll(async () => {
  await sb?.stop();
});

function handshake(port: number, options: { ciphers?: string; maxVersion?: 'TLSv1.2' }) {
  return new Promise<{ ok: boolean; cipher?: string; version?: string }>((resolve) => {
    const socket = connect({
      host: 'localhost',
      port,
      ca: sb.caCert,
      cert: pair.cert,
      key: pair.key,
      ...options,
    });
    socket.once('secureConnect', () => {
      resolve({ ok: true, cipher: socket.getCipher().name, version: socket.getProtocol() ?? '' });
      socket.end();
    });
    socket.once('error', () => {
      socket.destroy();
      resolve({ ok: false });
    });
  });
}

describe('TLS listeners', () => {
  const ports = () => [Number(new URL(sb.issuer).port), Number(new URL(sb.apiBaseUrl).port)];

  it('refuse TLS 1.2 CBC suites, even with ECDHE', async () => {
    for (const port of ports())
      for (const ciphers of ['ECDHE-ECDSA-AES128-SHA256', 'ECDHE-ECDSA-AES256-SHA384']) {
        expect({
          port,
          ciphers,
          ...(await handshake(port, { ciphers, maxVersion: 'TLSv1.2' })),
        }).toEqual({ port, ciphers, ok: false });
      }
  });

  it('accept TLS 1.3 and TLS 1.2 ECDHE with AEAD', async () => {
    for (const port of ports()) {
      expect(await handshake(port, {})).toMatchObject({ ok: true, version: 'TLSv1.3' });
      expect(
        await handshake(port, { ciphers: 'ECDHE-ECDSA-AES128-GCM-SHA256', maxVersion: 'TLSv1.2' }),
      ).toMatchObject({ ok: true, version: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES128-GCM-SHA256' });
    }
  });
});

describe('authorization server strictness', () => {
  it('advertises and serves only discovery, JWKS and the token endpoint', async () => {
    const meta = await httpsCall<Record<string, unknown>>(
      `${sb.issuer}/.well-known/openid-configuration`,
      { ca: sb.caCert },
    );
    const endpoints = Object.keys(meta.json).filter((k) => /_endpoint$|_uri$/.test(k));
    expect(endpoints.sort()).toEqual(['jwks_uri', 'token_endpoint']);
    for (const path of ['/auth', '/me', '/session/end', '/token/introspection', '/reg']) {
      const res = await httpsCall<Record<string, string>>(`${sb.issuer}${path}`, {
        ca: sb.caCert,
      });
      expect({ path, status: res.status, error: res.json?.error }).toEqual({
        path,
        status: 404,
        error: 'invalid_request',
      });
    }
  });

  it('refuses a repeated token-request parameter with invalid_request', async () => {
    for (const body of [
      'grant_type=client_credentials&scope=transactions:read&scope=payments:read',
      'grant_type=client_credentials&grant_type=refresh_token&scope=transactions:read',
    ]) {
      const res = await tokenCall(body, { authorization: basic('reporting-service') });
      expect({ body, status: res.status, error: res.json.error }).toEqual({
        body,
        status: 400,
        error: 'invalid_request',
      });
    }
  });

  it('answers invalid_scope to a refresh request asking for more scope', async () => {
    const first = await tokenCall('grant_type=client_credentials&scope=transactions:read', {
      authorization: basic('reporting-service'),
    });
    expect(first.status).toBe(200);
    const refresh = (scope?: string) =>
      tokenCall(
        new URLSearchParams({
          grant_type: 'refresh_token',
          refresh_token: first.json.refresh_token,
          ...(scope ? { scope } : {}),
        }).toString(),
        { authorization: basic('reporting-service') },
      );
    const wider = await refresh('transactions:read payments:read');
    expect({ status: wider.status, error: wider.json.error }).toEqual({
      status: 400,
      error: 'invalid_scope',
    });
    expect((await refresh('transactions:read')).json.scope).toBe('transactions:read');
    expect((await refresh()).json.scope).toBe('transactions:read');
  });

  it('refuses client assertions that live longer than five minutes', async () => {
    const refundCert = sb.pki.clients['refund-service'];
    const assertion = async (lifetime: number, withIat = true) => {
      const now = Math.floor(Date.now() / 1000);
      const jwt = new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer('refund-service')
        .setSubject('refund-service')
        .setAudience(sb.issuer)
        .setJti(randomUUID())
        .setExpirationTime(now + lifetime);
      if (withIat) jwt.setIssuedAt(now);
      const res = await tokenCall(
        new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'refunds:write',
          client_id: 'refund-service',
          client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          client_assertion: await jwt.sign(assertionKey),
        }).toString(),
        {},
        refundCert,
      );
      return { status: res.status, error: res.json.error };
    };
    expect(await assertion(365 * 24 * 3600)).toEqual({ status: 401, error: 'invalid_client' });
    expect(await assertion(3600, false)).toEqual({ status: 401, error: 'invalid_client' });
    expect(await assertion(301)).toEqual({ status: 401, error: 'invalid_client' });
    expect((await assertion(120)).status).toBe(200);
  });
});

describe('admin credential', () => {
  it('never passes through the environment of the sandbox process', () => {
    const environ = readFileSync(`/proc/${sb.pid()}/environ`, 'utf8');
    expect(environ).not.toContain(sb.adminToken);
    expect(environ).not.toMatch(/(^|\0)SANDBOX_ADMIN_TOKEN=/);
  });

  it('refuses to start with an admin-token file others can read', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lpi-admin-token-'));
    try {
      const file = join(dir, 'admin-token');
      writeFileSync(file, 'x'.repeat(48), { mode: 0o644 });
      await expect(
        startSandbox({ pki: sb.pki, env: { SANDBOX_ADMIN_TOKEN_FILE: file } }),
      ).rejects.toThrow(/chmod 600/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
