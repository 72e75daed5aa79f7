import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import fc from 'fast-check';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { Webhook } from 'standardwebhooks';
import { httpsCall, startSandbox, waitFor, type PemPair, type SandboxHandle } from '@lpi/testing';

jest.setTimeout(120_000);

let sb: SandboxHandle;
const secrets: Record<string, string> = {};
const cert = (name: string): PemPair => sb.pki.clients[name];

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

async function tokenRequest(
  clientId: string,
  body: Record<string, string>,
  {
    pair = cert(clientId) as PemPair | null,
    secret = secrets[clientId],
    method = 'basic' as 'basic' | 'post' | 'tls',
  } = {},
) {
  const params = new URLSearchParams(body);
  const headers: Record<string, string> = { ...form };
  if (method === 'basic') headers.authorization = basic(clientId, secret);
  if (method === 'post') {
    params.set('client_id', clientId);
    params.set('client_secret', secret);
  }
  if (method === 'tls') params.set('client_id', clientId);
  return httpsCall<Record<string, string>>(sb.tokenEndpoint, {
    method: 'POST',
    ca: sb.caCert,
    cert: pair?.cert ?? undefined,
    key: pair?.key ?? undefined,
    headers,
    body: params.toString(),
  });
}

async function accessToken(
  clientId: string,
  scope: string,
  method: 'basic' | 'post' | 'tls' = 'basic',
) {
  const res = await tokenRequest(clientId, { grant_type: 'client_credentials', scope }, { method });
  expect(res.status).toBe(200);
  return res.json.access_token;
}

async function api(
  method: string,
  path: string,
  token: string | undefined,
  pair: PemPair | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return httpsCall<
    { error?: { type: string; code: string; message: string; request_id: string } } & Record<
      string,
      unknown
    >
  >(`${sb.apiBaseUrl}${path}`, {
    method,
    ca: sb.caCert,
    cert: pair?.cert,
    key: pair?.key,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

beforeAll(async () => {
  sb = await startSandbox({ rateLimitPerMinute: 10_000 });
  const reg = async (id: string, scopes: string[], extra: Record<string, unknown> = {}) => {
    const r = await sb.admin.registerClient(id, {
      scopes,
      token_endpoint_auth_method: 'client_secret_basic',
      ...extra,
    });
    if (r.client_secret) secrets[id] = r.client_secret;
  };
  await reg('payment-service', ['payments:write', 'payments:read']);
  await reg('refund-service', ['refunds:write', 'refunds:read'], {
    token_endpoint_auth_method: 'client_secret_post',
  });
  await reg('reporting-service', ['transactions:read'], { refresh_tokens: true });
  await reg('webhook-service', ['webhooks:manage'], {
    token_endpoint_auth_method: 'tls_client_auth',
    tls_client_auth_subject_dn: 'CN=webhook-service',
  });
});
afterAll(async () => {
  await sb?.stop();
});

describe('authorization server', () => {
  it('issues RFC 9068 ES256 tokens bound to the client certificate, for each auth method', async () => {
    for (const [client, scope, method] of [
      ['payment-service', 'payments:write', 'basic'],
      ['refund-service', 'refunds:write', 'post'],
      ['webhook-service', 'webhooks:manage', 'tls'],
    ] as const) {
      const res = await tokenRequest(
        client,
        { grant_type: 'client_credentials', scope },
        { method },
      );
      expect({ client, status: res.status }).toEqual({ client, status: 200 });
      expect(res.json).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope });
      expect(res.headers['cache-control']).toBe('no-store');
      const header = decodeProtectedHeader(res.json.access_token);
      expect(header).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
      const claims = decodeJwt(res.json.access_token);
      expect(claims).toMatchObject({
        iss: sb.issuer,
        aud: sb.audience,
        client_id: client,
        sub: client,
        scope,
      });
      expect((claims.cnf as Record<string, string>)['x5t#S256']).toBe(cert(client).thumbprint);
    }
  });

  it('refuses an ungranted scope, an unknown scope and a missing scope with invalid_scope (no silent narrowing)', async () => {
    const ungranted = await tokenRequest('reporting-service', {
      grant_type: 'client_credentials',
      scope: 'transactions:read payments:write',
    });
    expect(ungranted.status).toBe(400);
    expect(ungranted.json.error).toBe('invalid_scope');
    const unknown = await tokenRequest('payment-service', {
      grant_type: 'client_credentials',
      scope: 'payments:write payments:admin',
    });
    expect(unknown.json).toMatchObject({ error: 'invalid_scope', scope: 'payments:admin' });
    const missing = await tokenRequest('payment-service', { grant_type: 'client_credentials' });
    expect(missing.json.error).toBe('invalid_scope');
  });

  it('refuses a wrong secret, the wrong auth method and a bound client without a certificate', async () => {
    expect(
      (
        await tokenRequest(
          'payment-service',
          { grant_type: 'client_credentials', scope: 'payments:write' },
          { secret: 'wrong' },
        )
      ).json.error,
    ).toBe('invalid_client');
    expect(
      (
        await tokenRequest(
          'payment-service',
          { grant_type: 'client_credentials', scope: 'payments:write' },
          { method: 'post' },
        )
      ).json.error,
    ).toBe('invalid_client');
    const noCert = await tokenRequest(
      'payment-service',
      { grant_type: 'client_credentials', scope: 'payments:write' },
      { pair: null },
    );
    expect(noCert.status).toBe(400);
    expect(noCert.json.error).toBe('invalid_grant');
    // a certificate the attacker minted is never bound into a token
    const rogue = await tokenRequest(
      'payment-service',
      { grant_type: 'client_credentials', scope: 'payments:write' },
      { pair: sb.pki.rogue },
    );
    expect(rogue.json.error).toBe('invalid_grant');
    // tls_client_auth with another service's certificate
    const wrongCert = await tokenRequest(
      'webhook-service',
      { grant_type: 'client_credentials', scope: 'webhooks:manage' },
      { method: 'tls', pair: cert('payment-service') },
    );
    expect(wrongCert.json.error).toBe('invalid_client');
    // the real reason is logged, the secret is not
    await waitFor('grant error log line', async () =>
      sb.logs().includes('mutual TLS client certificate not provided') ? true : undefined,
    );
    for (const s of Object.values(secrets)) expect(sb.logs()).not.toContain(s);
  });

  it('keeps old and new secrets valid during a rotation window, then only the new one', async () => {
    const old = secrets['payment-service'];
    const next = await sb.admin.rotateSecret('payment-service');
    const scope = { grant_type: 'client_credentials', scope: 'payments:read' };
    expect((await tokenRequest('payment-service', scope, { secret: old })).status).toBe(200);
    expect((await tokenRequest('payment-service', scope, { secret: next })).status).toBe(200);
    await sb.admin.retirePreviousSecret('payment-service');
    expect((await tokenRequest('payment-service', scope, { secret: old })).json.error).toBe(
      'invalid_client',
    );
    expect((await tokenRequest('payment-service', scope, { secret: next })).status).toBe(200);
    secrets['payment-service'] = next;
  });

  it('runs refresh-token mode for clients registered for it (seed 002)', async () => {
    const first = await tokenRequest('reporting-service', {
      grant_type: 'client_credentials',
      scope: 'transactions:read',
    });
    expect(first.json.refresh_token).toMatch(/^rt_/);
    const refreshed = await tokenRequest('reporting-service', {
      grant_type: 'refresh_token',
      refresh_token: first.json.refresh_token,
    });
    expect(refreshed.status).toBe(200);
    expect(refreshed.json.refresh_token).toBeUndefined();
    expect(decodeJwt(refreshed.json.access_token)).toMatchObject({
      scope: 'transactions:read',
      client_id: 'reporting-service',
    });
    expect(
      (await api('GET', '/v1/transactions', refreshed.json.access_token, cert('reporting-service')))
        .status,
    ).toBe(200);
    // a stolen refresh token is useless to another client, and to the owner without its certificate
    const stolen = await tokenRequest(
      'reporting-service',
      { grant_type: 'refresh_token', refresh_token: first.json.refresh_token },
      { pair: cert('payment-service') },
    );
    expect(stolen.json.error).toBe('invalid_grant');
    // clients not registered for refresh tokens get none
    expect(
      (
        await tokenRequest('payment-service', {
          grant_type: 'client_credentials',
          scope: 'payments:read',
        })
      ).json.refresh_token,
    ).toBeUndefined();
  });
});

describe('payments API token validation', () => {
  it('answers 403 insufficient_scope for a valid token without the scope', async () => {
    const token = await accessToken('payment-service', 'payments:read');
    const res = await api(
      'POST',
      '/v1/payments',
      token,
      cert('payment-service'),
      { amount: 100, currency: 'EUR' },
      { 'idempotency-key': 'scope-1' },
    );
    expect(res.status).toBe(403);
    expect(res.headers['www-authenticate']).toMatch(
      /error="insufficient_scope".*scope="payments:write"/,
    );
    expect(res.json.error).toMatchObject({ type: 'permission_error', code: 'insufficient_scope' });
  });

  it('answers 401 invalid_token for a token presented with another client certificate or none', async () => {
    const token = await accessToken('payment-service', 'payments:read');
    const other = await api('GET', '/v1/payments', token, cert('reporting-service'));
    expect(other.status).toBe(401);
    expect(other.headers['www-authenticate']).toMatch(/error="invalid_token"/);
    const none = await api('GET', '/v1/payments', token, undefined);
    expect(none.status).toBe(401);
    const rogue = await api('GET', '/v1/payments', token, sb.pki.rogue);
    expect(rogue.status).toBe(401);
    expect((await api('GET', '/v1/payments', token, cert('payment-service'))).status).toBe(200);
  });

  it('answers a bare 401 challenge without a token, and 400 for tokens in the query or body', async () => {
    const res = await api('GET', '/v1/payments', undefined, cert('payment-service'));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="sandbox-payments-api"');
    const token = await accessToken('payment-service', 'payments:read');
    expect(
      (await api('GET', `/v1/payments?access_token=${token}`, undefined, cert('payment-service')))
        .status,
    ).toBe(400);
    expect(
      (
        await api('POST', '/v1/payments', undefined, cert('payment-service'), {
          access_token: token,
        })
      ).status,
    ).toBe(400);
  });

  it('rejects forged tokens: alg none, HS256 keyed with the public key, wrong aud, wrong typ, foreign key', async () => {
    const genuine = await accessToken('payment-service', 'payments:read');
    const claims = decodeJwt(genuine);
    const header = decodeProtectedHeader(genuine);
    const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims)}.`;
    // HS256 keyed with the JWKS public key bytes (the classic algorithm-confusion attack)
    const jwks = (
      await httpsCall<{ keys: Record<string, unknown>[] }>(`${sb.issuer}/jwks`, {
        ca: sb.caCert,
        cert: cert('payment-service').cert,
        key: cert('payment-service').key,
      })
    ).json;
    const publicPem = createPublicKey({ key: jwks.keys[0] as never, format: 'jwk' }).export({
      type: 'spki',
      format: 'pem',
    });
    const hs = await new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt', kid: header.kid })
      .sign(Buffer.from(publicPem));
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const sign = (h: Record<string, unknown>, c: Record<string, unknown>) =>
      new SignJWT(c).setProtectedHeader({ alg: 'ES256', ...h }).sign(privateKey);
    const foreign = await sign({ typ: 'at+jwt', kid: header.kid }, claims);
    const wrongAud = await sign(
      { typ: 'at+jwt' },
      { ...claims, aud: 'https://elsewhere.example/v1' },
    );
    const wrongTyp = await sign({ typ: 'JWT' }, claims);
    for (const [name, t] of Object.entries({ none, hs, foreign, wrongAud, wrongTyp })) {
      const res = await api('GET', '/v1/payments', t, cert('payment-service'));
      expect({ name, status: res.status, code: res.json.error?.code }).toEqual({
        name,
        status: 401,
        code: 'invalid_token',
      });
    }
  });

  it('rejects an expired token, and refuses an expired refresh token', async () => {
    const short = await startSandbox({
      tokenTtlSeconds: 1,
      pki: sb.pki,
      env: { SANDBOX_REFRESH_TOKEN_TTL_SECONDS: '2' },
    });
    try {
      const r = await short.admin.registerClient('payment-service', {
        scopes: ['payments:read'],
        token_endpoint_auth_method: 'client_secret_basic',
        refresh_tokens: true,
      });
      const pair = cert('payment-service');
      const tok = await httpsCall<Record<string, string>>(short.tokenEndpoint, {
        method: 'POST',
        ca: short.caCert,
        cert: pair.cert,
        key: pair.key,
        headers: { ...form, authorization: basic('payment-service', r.client_secret!) },
        body: 'grant_type=client_credentials&scope=payments:read',
      });
      const call = () =>
        httpsCall<{ error: { code: string } }>(`${short.apiBaseUrl}/v1/payments`, {
          ca: short.caCert,
          cert: pair.cert,
          key: pair.key,
          headers: { authorization: `Bearer ${tok.json.access_token}` },
        });
      const refresh = () =>
        httpsCall<Record<string, string>>(short.tokenEndpoint, {
          method: 'POST',
          ca: short.caCert,
          cert: pair.cert,
          key: pair.key,
          headers: { ...form, authorization: basic('payment-service', r.client_secret!) },
          body: new URLSearchParams({
            grant_type: 'refresh_token',
            refresh_token: tok.json.refresh_token,
          }).toString(),
        });
      expect((await call()).status).toBe(200);
      expect((await refresh()).status).toBe(200);
      // 1 s TTL + the API's 5 s leeway
      await new Promise((r) => setTimeout(r, 7_000));
      const expired = await call();
      expect(expired.status).toBe(401);
      expect(expired.headers['www-authenticate']).toMatch(/token expired/);
      const lateRefresh = await refresh();
      expect(lateRefresh.json).toMatchObject({
        error: 'invalid_grant',
      });
    } finally {
      await short.stop();
    }
  });

  it('refuses tokens of a disabled client', async () => {
    const r = await sb.admin.registerClient('temp-client', {
      scopes: ['payments:read'],
      token_endpoint_auth_method: 'client_secret_basic',
      certificate_bound: false,
    });
    secrets['temp-client'] = r.client_secret!;
    const res = await tokenRequest(
      'temp-client',
      { grant_type: 'client_credentials', scope: 'payments:read' },
      { pair: cert('payment-service') },
    );
    const token = res.json.access_token;
    await sb.admin.disableClient('temp-client');
    expect((await api('GET', '/v1/payments', token, cert('payment-service'))).status).toBe(401);
    expect(
      (
        await tokenRequest('temp-client', {
          grant_type: 'client_credentials',
          scope: 'payments:read',
        })
      ).json.error,
    ).toBe('invalid_client');
  });
});

describe('payments API behaviour', () => {
  it('applies the idempotency rules', async () => {
    const token = await accessToken('payment-service', 'payments:write');
    const pair = cert('payment-service');
    const body = { amount: 1234, currency: 'EUR', description: 'order 1' };
    const first = await api('POST', '/v1/payments', token, pair, body, {
      'idempotency-key': 'idem-1',
    });
    expect(first.status).toBe(201);
    const replay = await api('POST', '/v1/payments', token, pair, body, {
      'idempotency-key': 'idem-1',
    });
    expect(replay.status).toBe(201);
    expect(replay.json.id).toBe(first.json.id);
    expect(replay.headers['idempotent-replayed']).toBe('true');
    const different = await api(
      'POST',
      '/v1/payments',
      token,
      pair,
      { ...body, amount: 999 },
      { 'idempotency-key': 'idem-1' },
    );
    expect(different.status).toBe(422);
    expect(different.json.error?.code).toBe('idempotency_key_reused');
    const missing = await api('POST', '/v1/payments', token, pair, body);
    expect(missing.status).toBe(400);
    expect(missing.json.error?.code).toBe('idempotency_key_required');
    // concurrent duplicates: exactly one charge, the others replay or get 409
    const burst = await Promise.all(
      Array.from({ length: 8 }, () =>
        api('POST', '/v1/payments', token, pair, body, { 'idempotency-key': 'idem-burst' }),
      ),
    );
    expect(burst.every((r) => r.status === 201 || r.status === 409)).toBe(true);
    const ledger = await sb.admin.ledger();
    expect(ledger.payments.filter((p) => p.idempotency_key === 'idem-1')).toHaveLength(1);
    expect(ledger.payments.filter((p) => p.idempotency_key === 'idem-burst')).toHaveLength(1);
  });

  it('validates amounts and currencies with the error envelope', async () => {
    const token = await accessToken('payment-service', 'payments:write');
    for (const [i, body] of [
      { amount: 10.5, currency: 'EUR' },
      { amount: -1, currency: 'EUR' },
      { amount: 10, currency: 'EURO' },
      { amount: 10 },
    ].entries()) {
      const res = await api('POST', '/v1/payments', token, cert('payment-service'), body, {
        'idempotency-key': `bad-${i}`,
      });
      expect(res.status).toBe(400);
      expect(res.json.error).toEqual({
        type: 'invalid_request_error',
        code: 'invalid_parameters',
        message: expect.any(String),
        request_id: expect.any(String),
      });
    }
  });

  it('refunds an existing payment within its amount and paginates transactions', async () => {
    const pay = await api(
      'POST',
      '/v1/payments',
      await accessToken('payment-service', 'payments:write'),
      cert('payment-service'),
      { amount: 500, currency: 'EUR' },
      { 'idempotency-key': 'to-refund' },
    );
    const refundToken = await accessToken('refund-service', 'refunds:write', 'post');
    const ok = await api(
      'POST',
      '/v1/refunds',
      refundToken,
      cert('refund-service'),
      { payment: pay.json.id, amount: 200 },
      { 'idempotency-key': 'r1' },
    );
    expect(ok.status).toBe(201);
    const tooMuch = await api(
      'POST',
      '/v1/refunds',
      refundToken,
      cert('refund-service'),
      { payment: pay.json.id, amount: 301 },
      { 'idempotency-key': 'r2' },
    );
    expect(tooMuch.json.error?.code).toBe('amount_too_large');
    const txToken = await accessToken('reporting-service', 'transactions:read');
    const page1 = await api('GET', '/v1/transactions?limit=2', txToken, cert('reporting-service'));
    expect((page1.json.data as unknown[]).length).toBe(2);
    expect(page1.json.has_more).toBe(true);
    const last = (page1.json.data as { id: string }[])[1].id;
    const page2 = await api(
      'GET',
      `/v1/transactions?limit=100&starting_after=${last}`,
      txToken,
      cert('reporting-service'),
    );
    expect((page2.json.data as { id: string }[]).map((t) => t.id)).not.toContain(last);
  });

  it('sends rate-limit headers and 429 with Retry-After when exceeded', async () => {
    const limited = await startSandbox({ rateLimitPerMinute: 3, pki: sb.pki });
    try {
      const r = await limited.admin.registerClient('reporting-service', {
        scopes: ['transactions:read'],
        token_endpoint_auth_method: 'client_secret_basic',
      });
      const pair = cert('reporting-service');
      const tok = await httpsCall<Record<string, string>>(limited.tokenEndpoint, {
        method: 'POST',
        ca: limited.caCert,
        cert: pair.cert,
        key: pair.key,
        headers: { ...form, authorization: basic('reporting-service', r.client_secret!) },
        body: 'grant_type=client_credentials&scope=transactions:read',
      });
      const call = () =>
        httpsCall<{ error: { code: string } }>(`${limited.apiBaseUrl}/v1/transactions`, {
          ca: limited.caCert,
          cert: pair.cert,
          key: pair.key,
          headers: { authorization: `Bearer ${tok.json.access_token}` },
        });
      const results = [await call(), await call(), await call(), await call()];
      expect(results.map((x) => x.status)).toEqual([200, 200, 200, 429]);
      expect(results.map((x) => x.headers['x-ratelimit-remaining'])).toEqual(['2', '1', '0', '0']);
      expect(results[0].headers['x-ratelimit-limit']).toBe('3');
      expect(Number(results[3].headers['retry-after'])).toBeGreaterThan(0);
      expect(results[3].json.error.code).toBe('rate_limited');
    } finally {
      await limited.stop();
    }
  });

  it('delivers payment events signed per Standard Webhooks, retrying failed deliveries', async () => {
    const received: { headers: Record<string, string>; body: string }[] = [];
    let failFirst = true;
    const receiver: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (failFirst) {
          failFirst = false;
          res.writeHead(503).end();
          return;
        }
        received.push({ headers: req.headers as Record<string, string>, body });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const port = (receiver.address() as { port: number }).port;
      const wToken = await accessToken('webhook-service', 'webhooks:manage', 'tls');
      const ep = await api(
        'POST',
        '/v1/webhook-endpoints',
        wToken,
        cert('webhook-service'),
        { url: `http://127.0.0.1:${port}/hook`, events: ['payment.succeeded'] },
        { 'idempotency-key': 'ep-1' },
      );
      expect(ep.status).toBe(201);
      const secret = ep.json.secret as string;
      expect(secret).toMatch(/^whsec_/);
      const listed = await api('GET', '/v1/webhook-endpoints', wToken, cert('webhook-service'));
      expect(JSON.stringify(listed.json)).not.toContain(secret);

      const pay = await api(
        'POST',
        '/v1/payments',
        await accessToken('payment-service', 'payments:write'),
        cert('payment-service'),
        { amount: 42, currency: 'EUR' },
        { 'idempotency-key': 'hooked' },
      );
      await waitFor('a delivered webhook', async () => (received.length > 0 ? true : undefined));
      const event = new Webhook(secret).verify(received[0].body, received[0].headers) as {
        type: string;
        data: { id: string };
      };
      expect(event).toMatchObject({ type: 'payment.succeeded', data: { id: pay.json.id } });
      expect(() =>
        new Webhook(secret).verify(received[0].body.replace('42', '43'), received[0].headers),
      ).toThrow();
      const attempts = await sb.admin.webhookDeliveries();
      expect(attempts.filter((a) => a.endpoint === ep.json.id).map((a) => a.status)).toEqual([
        503, 204,
      ]);
    } finally {
      receiver.close();
    }
  });

  it('guards the admin API with its own credential', async () => {
    const res = await httpsCall(`${sb.apiBaseUrl}/admin/ledger`, {
      ca: sb.caCert,
      headers: { authorization: 'Bearer not-the-admin-token-at-all-000000000' },
    });
    expect(res.status).toBe(401);
    const token = await accessToken('payment-service', 'payments:read');
    expect(
      (
        await httpsCall(`${sb.apiBaseUrl}/admin/ledger`, {
          ca: sb.caCert,
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
    ).toBe(401);
  });

  it('never answers 5xx and always uses the envelope, whatever the input (fuzz)', async () => {
    const token = await accessToken('payment-service', 'payments:write payments:read');
    const pair = cert('payment-service');
    const paths = [
      '/v1/payments',
      '/v1/payments/pp_x',
      '/v1/refunds',
      '/v1/transactions',
      '/v1/webhook-endpoints',
      '/v1/payments?limit=',
      '/v1/%ff',
      '/v1/payments?starting_after=zz',
    ];
    const json = fc.oneof(
      fc.json(),
      fc
        .record(
          {
            amount: fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)),
            currency: fc.oneof(fc.string(), fc.constantFrom('EUR', 'usd', 'XXX')),
            description: fc.option(fc.string({ maxLength: 300 })),
          },
          { requiredKeys: [] },
        )
        .map((o) => JSON.stringify(o)),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH'),
        fc.constantFrom(...paths),
        json,
        fc.option(fc.string({ minLength: 1, maxLength: 40 })),
        fc.constantFrom(
          'application/json',
          'application/x-www-form-urlencoded',
          'text/plain',
          'application/json; charset=latin1',
        ),
        async (method, path, body, key, contentType) => {
          const res = await api(method, path, token, pair, method === 'GET' ? undefined : body, {
            ...(key ? { 'idempotency-key': key.replace(/[^\x21-\x7e]/g, 'x') || 'k' } : {}),
            ...(method === 'GET' ? {} : { 'content-type': contentType }),
          });
          expect(res.status).toBeLessThan(500);
          if (res.status >= 400) {
            expect(res.json.error).toEqual({
              type: expect.any(String),
              code: expect.any(String),
              message: expect.any(String),
              request_id: expect.any(String),
            });
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('admin API, registration changes and fault injection', () => {
  const adminCall = (method: string, path: string, body?: unknown) =>
    httpsCall<Record<string, unknown>>(`${sb.apiBaseUrl}/admin${path}`, {
      method,
      ca: sb.caCert,
      headers: {
        authorization: `Bearer ${sb.adminToken}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });

  it('registers idempotently, applies a changed registration, and stops refresh tokens it no longer covers', async () => {
    const reg = {
      scopes: ['payments:read', 'transactions:read'],
      token_endpoint_auth_method: 'client_secret_basic',
      tls_client_auth_subject_dn: 'CN=payment-service',
      refresh_tokens: true,
    };
    const created = await adminCall('PUT', '/clients/narrowed-client', reg);
    expect(created.status).toBe(201);
    expect(created.json.client_secret).toEqual(expect.any(String));
    secrets['narrowed-client'] = created.json.client_secret as string;
    const again = await adminCall('PUT', '/clients/narrowed-client', reg);
    expect(again.status).toBe(200);
    expect(again.json).toEqual({ client_id: 'narrowed-client' });

    const pair = cert('payment-service');
    const first = await tokenRequest(
      'narrowed-client',
      { grant_type: 'client_credentials', scope: 'payments:read transactions:read' },
      { pair },
    );
    expect(first.status).toBe(200);
    const narrowed = await adminCall('PUT', '/clients/narrowed-client', {
      ...reg,
      scopes: ['payments:read'],
    });
    expect(narrowed.status).toBe(200);
    expect(narrowed.json.client_secret).toBeUndefined();
    // the secret was not regenerated, the scopes were updated
    const now = await tokenRequest(
      'narrowed-client',
      { grant_type: 'client_credentials', scope: 'transactions:read' },
      { pair },
    );
    expect(now.json.error).toBe('invalid_scope');
    const refreshed = await tokenRequest(
      'narrowed-client',
      { grant_type: 'refresh_token', refresh_token: first.json.refresh_token },
      { pair },
    );
    expect(refreshed.json.error).toBe('invalid_grant');
    expect(
      (
        await tokenRequest(
          'narrowed-client',
          { grant_type: 'client_credentials', scope: 'payments:read' },
          { pair },
        )
      ).status,
    ).toBe(200);
  });

  it("stops a disabled client's refresh tokens", async () => {
    const r = await sb.admin.registerClient('disabled-refresher', {
      scopes: ['transactions:read'],
      token_endpoint_auth_method: 'client_secret_basic',
      tls_client_auth_subject_dn: 'CN=reporting-service',
      refresh_tokens: true,
    });
    secrets['disabled-refresher'] = r.client_secret!;
    const pair = cert('reporting-service');
    const first = await tokenRequest(
      'disabled-refresher',
      { grant_type: 'client_credentials', scope: 'transactions:read' },
      { pair },
    );
    const refresh = () =>
      tokenRequest(
        'disabled-refresher',
        { grant_type: 'refresh_token', refresh_token: first.json.refresh_token },
        { pair },
      );
    expect((await refresh()).status).toBe(200);
    await sb.admin.disableClient('disabled-refresher');
    expect((await refresh()).json.error).toBe('invalid_client');
  });

  it('rejects invalid registrations and unknown clients with the envelope', async () => {
    const bad = await adminCall('PUT', '/clients/some-client', {
      scopes: ['payments:admin'],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatchObject({
      code: expect.any(String),
      request_id: expect.any(String),
    });
    const tlsWithoutDn = await adminCall('PUT', '/clients/some-client', {
      scopes: ['payments:read'],
      token_endpoint_auth_method: 'tls_client_auth',
    });
    expect(tlsWithoutDn.status).toBe(400);
    const jwk = { kty: 'EC', crv: 'P-256', x: 'x'.repeat(43), y: 'y'.repeat(43), kid: 'k1' };
    for (const [body, why] of [
      [{ token_endpoint_auth_method: 'private_key_jwt' }, /jwks/],
      [{ token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [jwk, jwk, jwk] } }, /2/],
      [{ token_endpoint_auth_method: 'client_secret_basic', jwks: { keys: [jwk] } }, /jwks/],
      [
        { token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ ...jwk, kty: 'RSA' }] } },
        /EC|kty/,
      ],
    ] as const) {
      const res = await adminCall('PUT', '/clients/some-client', {
        scopes: ['payments:read'],
        ...body,
      });
      expect({ status: res.status, mentions: why.test(JSON.stringify(res.json)) }).toEqual({
        status: 400,
        mentions: true,
      });
    }
    expect((await adminCall('POST', '/clients/no-such-client/secrets')).status).toBe(404);
  });

  it('injects an unavailable token endpoint, counted API failures and a token revocation', async () => {
    const pair = cert('payment-service');
    const before = await accessToken('payment-service', 'payments:read');
    try {
      await sb.admin.setFault({ token_endpoint: 'down' });
      const down = await tokenRequest('payment-service', {
        grant_type: 'client_credentials',
        scope: 'payments:read',
      });
      expect(down.status).toBe(503);
      expect(down.json.error).toBe('temporarily_unavailable');
      await sb.admin.setFault({ token_endpoint: 'up', api_status: { status: 502, count: 2 } });
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await api('GET', '/v1/payments', before, pair);
        statuses.push(res.status);
        if (res.status === 502) expect(res.json.error?.code).toBe('injected_fault');
      }
      expect(statuses).toEqual([502, 502, 200]);

      await sb.admin.setFault({ revoke_tokens_issued_before: 'now' });
      const revoked = await api('GET', '/v1/payments', before, pair);
      expect(revoked.status).toBe(401);
      expect(revoked.headers['www-authenticate']).toMatch(/error="invalid_token"/);
      const after = await accessToken('payment-service', 'payments:read');
      expect((await api('GET', '/v1/payments', after, pair)).status).toBe(200);
    } finally {
      await sb.admin.clearFaults();
    }
  });
});

describe('payments API request hygiene', () => {
  it('scopes keys per client and per endpoint, and ignores JSON key order', async () => {
    const r = await sb.admin.registerClient('two-scope-client', {
      scopes: ['payments:write', 'webhooks:manage'],
      token_endpoint_auth_method: 'client_secret_basic',
      tls_client_auth_subject_dn: 'CN=payment-service',
    });
    secrets['two-scope-client'] = r.client_secret!;
    const pair = cert('payment-service');
    const token = (
      await tokenRequest(
        'two-scope-client',
        { grant_type: 'client_credentials', scope: 'payments:write webhooks:manage' },
        { pair },
      )
    ).json.access_token;
    const key = { 'idempotency-key': 'shared-key' };
    const first = await api(
      'POST',
      '/v1/payments',
      token,
      pair,
      '{"amount":77,"currency":"EUR"}',
      key,
    );
    expect(first.status).toBe(201);
    const reordered = await api(
      'POST',
      '/v1/payments',
      token,
      pair,
      '{"currency":"EUR","amount":77}',
      key,
    );
    expect(reordered.status).toBe(201);
    expect(reordered.json.id).toBe(first.json.id);
    // the same key and body sent to another endpoint is another request, never a replay
    const otherPath = await api(
      'POST',
      '/v1/webhook-endpoints',
      token,
      pair,
      '{"amount":77,"currency":"EUR"}',
      key,
    );
    expect(otherPath.status).toBe(422);
    expect(otherPath.json.error?.code).toBe('idempotency_key_reused');
    // another client's identical key is its own request
    const other = await api(
      'POST',
      '/v1/payments',
      await accessToken('payment-service', 'payments:write'),
      pair,
      '{"amount":77,"currency":"EUR"}',
      key,
    );
    expect(other.status).toBe(201);
    expect(other.json.id).not.toBe(first.json.id);
    const ledger = await sb.admin.ledger();
    expect(ledger.payments.filter((p) => p.idempotency_key === 'shared-key')).toHaveLength(2);
  });

  it('refuses an access token in a form body', async () => {
    const token = await accessToken('payment-service', 'payments:read');
    const res = await httpsCall<{ error: { code: string } }>(`${sb.apiBaseUrl}/v1/payments`, {
      method: 'POST',
      ca: sb.caCert,
      cert: cert('payment-service').cert,
      key: cert('payment-service').key,
      headers: { ...form, 'idempotency-key': 'form-token' },
      body: new URLSearchParams({ access_token: token, amount: '1', currency: 'EUR' }).toString(),
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalid_request');
  });

  it('publishes the JWKS the API verifies against at jwksUri', async () => {
    const jwks = await httpsCall<{ keys: { kid: string; alg: string; d?: string }[] }>(sb.jwksUri, {
      ca: sb.caCert,
      cert: cert('payment-service').cert,
      key: cert('payment-service').key,
    });
    const token = await accessToken('payment-service', 'payments:read');
    expect(jwks.json.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(token).kid);
    expect(jwks.json.keys.every((k) => k.d === undefined && k.alg === 'ES256')).toBe(true);
  });
});
