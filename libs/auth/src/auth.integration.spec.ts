import { generateKeyPairSync } from 'node:crypto';
import { Writable } from 'node:stream';
import { decodeJwt } from 'jose';
import { createLogger } from '@lpi/service-bootstrap';
import { httpsCall, startSandbox, tokenEndpointAuth, type SandboxHandle } from '@lpi/testing';
import {
  CredentialSet,
  ProviderClient,
  RateLimitedError,
  TokenManager,
  assertionPublicJwk,
  type ClientCredential,
  type TokenEndpointAuthMethod,
} from './index';

jest.setTimeout(60_000);

let sb: SandboxHandle;
const logLines: string[] = [];
const logger = createLogger({
  service: 'auth-test',
  level: 'debug',
  destination: new Writable({ write: (c, _e, cb) => (logLines.push(String(c)), cb()) }),
});
const issuedSecrets: string[] = [];
const issuedTokens: string[] = [];
const managers: TokenManager[] = [];
const known: Record<string, string> = {};

async function register(
  id: string,
  scopes: string[],
  method: TokenEndpointAuthMethod = 'client_secret_basic',
  refresh = false,
): Promise<ClientCredential> {
  const reg = await sb.admin.registerClient(id, {
    scopes,
    token_endpoint_auth_method: method,
    tls_client_auth_subject_dn: method === 'tls_client_auth' ? `CN=${id}` : undefined,
    refresh_tokens: refresh,
  });
  if (reg.client_secret) {
    issuedSecrets.push(reg.client_secret);
    known[id] = reg.client_secret; // returned once; re-registration keeps it
  }
  const pair = sb.pki.clients[id];
  return { clientId: id, clientSecret: known[id], cert: pair.cert, key: pair.key };
}

function tokenManager(
  credentials: CredentialSet,
  scopes: string[],
  authMethod: TokenEndpointAuthMethod = 'client_secret_basic',
) {
  const tm = new TokenManager({
    issuer: sb.issuer,
    caCert: sb.caCert,
    clients: [{ name: 'provider', credentials, scopes, authMethod }],
    logger,
    retry: { attempts: 2, baseDelayMs: 10 },
  });
  managers.push(tm);
  return tm;
}

async function token(tm: TokenManager) {
  const t = await tm.getToken('provider');
  issuedTokens.push(t.value);
  return t;
}

beforeAll(async () => {
  sb = await startSandbox({ rateLimitPerMinute: 10_000 });
});
afterAll(async () => {
  managers.forEach((m) => m.close());
  await sb?.stop();
});

describe('token manager against the real authorization server (HTTPS + mTLS)', () => {
  it.each([['client_secret_basic'], ['client_secret_post'], ['tls_client_auth']] as const)(
    'gets a certificate-bound token with %s',
    async (method) => {
      const id =
        method === 'tls_client_auth'
          ? 'webhook-service'
          : method === 'client_secret_post'
            ? 'refund-service'
            : 'payment-service';
      const scope = {
        'webhook-service': 'webhooks:manage',
        'refund-service': 'refunds:write',
        'payment-service': 'payments:write',
      }[id];
      const tm = tokenManager(
        new CredentialSet(await register(id, [scope], method)),
        [scope],
        method,
      );
      const t = await token(tm);
      expect(decodeJwt(t.value)).toMatchObject({
        client_id: id,
        scope,
        cnf: { 'x5t#S256': sb.pki.clients[id].thumbprint },
      });
    },
  );

  it('types invalid_scope', async () => {
    const tm = tokenManager(
      new CredentialSet(await register('reporting-service', ['transactions:read'])),
      ['payments:write'],
    );
    await expect(tm.getToken('provider')).rejects.toMatchObject({ code: 'INVALID_SCOPE' });
  });

  it('uses the refresh token the provider issues (seed 002) and falls back after it is refused', async () => {
    const cred = await register(
      'reporting-service',
      ['transactions:read'],
      'client_secret_basic',
      true,
    );
    let now = 0;
    const tm = new TokenManager({
      issuer: sb.issuer,
      caCert: sb.caCert,
      clients: [
        { name: 'provider', credentials: new CredentialSet(cred), scopes: ['transactions:read'] },
      ],
      logger,
      clock: { now: () => now },
    });
    managers.push(tm);
    const a = await token(tm);
    now += 850_000; // inside the hard buffer of the 900 s token: renewed through refresh_token
    const b = await token(tm);
    expect(b.value).not.toBe(a.value);
    const text = await tm.metrics.registry.metrics();
    expect(text).toMatch(/grant="refresh_token"\} 1/);
  });

  it('picks up rotated credentials without a restart, and falls back to the next secret on invalid_client', async () => {
    const cred = await register('payment-service', ['payments:write', 'payments:read']);
    const set = new CredentialSet(cred);
    const tm = tokenManager(set, ['payments:read']);
    await token(tm);
    const next = await sb.admin.rotateSecret('payment-service');
    issuedSecrets.push(next);
    await sb.admin.retirePreviousSecret('payment-service');
    // Vault now holds current=old (stale) and next=new: invalid_client with the first falls back
    set.update(cred, { ...cred, clientSecret: next });
    known['payment-service'] = next;
    const t = await token(tm);
    expect(decodeJwt(t.value).client_id).toBe('payment-service');
    expect(set.current().clientSecret).toBe(next);
  });
});

describe('provider client', () => {
  it('retries a 401 exactly once with a fresh token and the same Idempotency-Key', async () => {
    const cred = await register('payment-service', ['payments:write', 'payments:read']);
    const tm = tokenManager(new CredentialSet(cred), ['payments:write', 'payments:read']);
    const api = new ProviderClient(tm, 'provider', sb.apiBaseUrl);
    const first = await api.request<{ id: string }>({
      method: 'POST',
      path: '/v1/payments',
      body: { amount: 700, currency: 'EUR' },
      idempotencyKey: 'retry-401',
    });
    expect(first.status).toBe(201);
    await sb.admin.setFault({ revoke_tokens_issued_before: 'now' }); // the provider revokes every token
    const again = await api.request<{ id: string }>({
      method: 'POST',
      path: '/v1/payments',
      body: { amount: 700, currency: 'EUR' },
      idempotencyKey: 'retry-401',
    });
    expect(again.data.id).toBe(first.data.id); // same key: replayed, not charged twice
    const ledger = await sb.admin.ledger();
    expect(ledger.payments.filter((p) => p.idempotency_key === 'retry-401')).toHaveLength(1);
    expect(await tm.metrics.registry.metrics()).toMatch(
      /lpi_token_requests_total\{client="provider",grant="client_credentials"\} 2/,
    );
  });

  it('in fixed-token mode (the benchmark baseline) skips the cache until the token is refused', async () => {
    const cred = await register('reporting-service', ['transactions:read']);
    const tm = tokenManager(new CredentialSet(cred), ['transactions:read']);
    const api = new ProviderClient(tm, 'provider', sb.apiBaseUrl, { fixedToken: true });
    const lookups = jest.spyOn(tm, 'getToken');
    const list = () => api.request({ method: 'GET', path: '/v1/transactions' });
    for (let i = 0; i < 5; i++) expect((await list()).status).toBe(200);
    expect(lookups).toHaveBeenCalledTimes(1);
    await sb.admin.setFault({ revoke_tokens_issued_before: 'now' });
    for (let i = 0; i < 3; i++) expect((await list()).status).toBe(200);
    expect(lookups).toHaveBeenCalledTimes(2); // one new token after the 401, then fixed again
    expect(await tm.metrics.registry.metrics()).toMatch(
      /lpi_token_requests_total\{client="provider",grant="client_credentials"\} 2/,
    );
    await sb.admin.clearFaults();
  });

  it('surfaces 429 as a typed RateLimitedError with the wait', async () => {
    const cred = await register('reporting-service', ['transactions:read']);
    const tm = tokenManager(new CredentialSet(cred), ['transactions:read']);
    const api = new ProviderClient(tm, 'provider', sb.apiBaseUrl);
    await sb.admin.setFault({ api_status: { status: 429, count: 1 } });
    const err = await api
      .request({ method: 'GET', path: '/v1/transactions' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(1000);
    expect((await api.request({ method: 'GET', path: '/v1/transactions' })).status).toBe(200);
    // the operator sees the 429 on /metrics (docs/operations.md alerts on it)
    const text = await tm.metrics.registry.metrics();
    expect(text).toContain('lpi_provider_responses_total{client="provider",status="429"} 1');
    expect(text).toContain('lpi_provider_responses_total{client="provider",status="200"} 1');
    await sb.admin.clearFaults();
  });

  it('surfaces 403 without retrying and with no token in the error', async () => {
    const cred = await register('reporting-service', ['transactions:read']);
    const tm = tokenManager(new CredentialSet(cred), ['transactions:read']);
    const api = new ProviderClient(tm, 'provider', sb.apiBaseUrl);
    const err = (await api
      .request({
        method: 'POST',
        path: '/v1/payments',
        body: { amount: 1, currency: 'EUR' },
        idempotencyKey: 'x',
      })
      .catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'PROVIDER_FORBIDDEN' });
    for (const t of issuedTokens)
      expect(JSON.stringify(err) + err.message + String(err.stack)).not.toContain(t);
  });
});

describe('private_key_jwt (RFC 7523): no shared secret, a signed assertion per request', () => {
  const id = 'assertion-client';
  let cred: ClientCredential;
  const url = () => sb.tokenEndpoint;
  const tokenCall = (auth: ReturnType<typeof tokenEndpointAuth>) =>
    httpsCall<Record<string, string>>(url(), {
      method: 'POST',
      ca: sb.caCert,
      cert: cred.cert,
      key: cred.key,
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'transactions:read',
        ...auth.form,
      }).toString(),
    });
  const newKey = () =>
    generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();

  beforeAll(async () => {
    const pair = await sb.pki.issueClient(id);
    const assertionKey = newKey();
    issuedSecrets.push(...assertionKey.split('\n').filter((l) => l.length > 20));
    const reg = await sb.admin.registerClient(id, {
      scopes: ['transactions:read'],
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: { keys: [assertionPublicJwk(assertionKey)] },
    });
    expect(reg.client_secret).toBeUndefined(); // the provider never hands it a secret
    cred = { clientId: id, assertionKey, cert: pair.cert, key: pair.key };
  });

  it('gets a certificate-bound token through the token manager', async () => {
    const tm = tokenManager(new CredentialSet(cred), ['transactions:read'], 'private_key_jwt');
    const t = await token(tm);
    expect(decodeJwt(t.value)).toMatchObject({ client_id: id, scope: 'transactions:read' });
    expect(decodeJwt(t.value).cnf).toBeDefined();
  });

  it('refuses a replayed assertion, one signed with another key, and a Basic guess', async () => {
    const secret = {
      client_id: id,
      client_assertion_key: cred.assertionKey as string,
    };
    const auth = tokenEndpointAuth(secret, sb.issuer);
    expect((await tokenCall(auth)).status).toBe(200);
    const replay = await tokenCall(auth);
    expect({ status: replay.status, error: replay.json.error }).toEqual({
      status: 401,
      error: 'invalid_client',
    });
    const forged = await tokenCall(
      tokenEndpointAuth({ client_id: id, client_assertion_key: newKey() }, sb.issuer),
    );
    expect(forged.json.error).toBe('invalid_client');
    const basic = await tokenCall(
      tokenEndpointAuth({ client_id: id, client_secret: 'guessed-secret-value' }, sb.issuer),
    );
    expect(basic.json.error).toBe('invalid_client');
  });

  it('refuses to register a private key as the client JWK', async () => {
    const jwk = { ...assertionPublicJwk(newKey()), d: 'not-allowed' };
    await expect(
      sb.admin.registerClient(id, {
        scopes: ['transactions:read'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: [jwk] },
      }),
    ).rejects.toThrow(/400/);
  });

  it('names a key that cannot sign ES256 as a configuration error, without quoting it', async () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const tm = tokenManager(
      new CredentialSet({ ...cred, assertionKey: rsa }),
      ['transactions:read'],
      'private_key_jwt',
    );
    const err = (await tm.getToken('provider').catch((e: unknown) => e)) as Error;
    expect(err).toMatchObject({ code: 'INVALID_CLIENT_CONFIG' });
    expect(err.message).toMatch(/EC P-256/);
    expect(err.message).not.toContain(rsa.split('\n')[1]);
  });
});

describe('redaction', () => {
  it('never writes an issued secret, token or key to the real logger', async () => {
    // failure path too: a wrong secret, logged by the library
    const tm = tokenManager(
      new CredentialSet({
        ...(await register('payment-service', ['payments:write'])),
        clientSecret: 'definitely-wrong-secret-value',
      }),
      ['payments:write'],
    );
    await expect(tm.getToken('provider')).rejects.toMatchObject({ code: 'INVALID_CLIENT' });
    const output = logLines.join('');
    expect(output.length).toBeGreaterThan(0);
    const secrets = [
      ...issuedSecrets,
      ...issuedTokens,
      'definitely-wrong-secret-value',
      ...Object.values(sb.pki.clients).map((p) => p.key.split('\n')[1]),
    ];
    for (const s of secrets) expect(output).not.toContain(s);
  });
});
