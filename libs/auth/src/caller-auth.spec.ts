import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { Controller, Get, Module, Post, Req, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { ServiceBootstrapModule } from '@lpi/service-bootstrap';
import {
  CallerAuthGuard,
  CallerAuthModule,
  CallerTokenVerifier,
  RouteDeclarationError,
  readCallerAuthConfig,
  type CallerAuthOptions,
  type CallerRequest,
} from './index';

jest.setTimeout(60_000);

/** A JWKS endpoint like Vault's `identity/oidc/.well-known/keys`, counting its fetches. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  failWith?: number;
  private server?: Server;
  port = 0;
  async start(port = 0) {
    this.server = createServer((req, res) => {
      this.fetches += 1;
      if (this.failWith) {
        res.writeHead(this.failWith).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: this.keys }));
    });
    await new Promise<void>((r) => this.server!.listen(port, '127.0.0.1', r));
    this.port = (this.server!.address() as { port: number }).port;
  }
  async stop() {
    await new Promise((r) => this.server?.close(r));
    this.server?.closeAllConnections();
  }
  get url() {
    return `http://127.0.0.1:${this.port}/v1/identity/oidc/.well-known/keys`;
  }
}

interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}
async function signingKey(alg: 'RS256' | 'ES256' = 'RS256'): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const VAULT = 'http://127.0.0.1:8200';
const ISSUER = `${VAULT}/v1/identity/oidc`;
const now = () => Math.floor(Date.now() / 1000);

/** A token shaped as Vault mints it for a `<caller>-to-<service>` role (no typ, template claims). */
async function vaultToken(
  key: SigningKey,
  over: {
    aud?: string;
    iss?: string;
    caller?: string | null;
    scope?: string | null;
    iat?: number;
    exp?: number;
    nbf?: number;
    typ?: string;
    alg?: string;
  } = {},
): Promise<string> {
  const iat = over.iat ?? now();
  const claims: Record<string, unknown> = { namespace: 'root' };
  if (over.caller !== null) claims.client_id = over.caller ?? 'checkout';
  if (over.scope !== null) claims.scope = over.scope ?? 'payments:create payments:read';
  if (over.nbf !== undefined) claims.nbf = over.nbf;
  return new SignJWT(claims)
    .setProtectedHeader({
      alg: over.alg ?? key.jwk.alg!,
      kid: key.kid,
      ...(over.typ ? { typ: over.typ } : {}),
    })
    .setIssuer(over.iss ?? ISSUER)
    .setAudience(over.aud ?? 'payment-service')
    .setSubject(randomUUID())
    .setIssuedAt(iat)
    .setExpirationTime(over.exp ?? iat + 300)
    .sign(key.privateKey);
}

@Controller('payments')
class PaymentsController {
  @Post()
  create(@Req() req: CallerRequest) {
    return { caller: req.caller?.caller };
  }
  @Get(':id')
  get(@Req() req: CallerRequest) {
    return { caller: req.caller?.caller };
  }
}

const logLines: string[] = [];
const logSink = new Writable({
  write(chunk: Buffer, _enc, cb) {
    logLines.push(chunk.toString());
    cb();
  },
});

async function startApp(options: CallerAuthOptions, extra: (new () => object)[] = []) {
  @Module({
    imports: [
      ServiceBootstrapModule.forService({ service: 'payment-service', logDestination: logSink }),
      CallerAuthModule.forService('payment-service', options),
    ],
    controllers: [PaymentsController, ...extra],
  })
  class TestModule {}
  const app = await NestFactory.create(TestModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  return { app, url: (await app.getUrl()).replace('[::1]', '127.0.0.1') };
}

const optionsFor = (
  jwks: JwksServer,
  over: Partial<CallerAuthOptions> = {},
): CallerAuthOptions => ({
  ...readCallerAuthConfig('payment-service', { VAULT_ADDR: VAULT, CALLER_JWKS_URL: jwks.url }),
  ...over,
});

interface Answer {
  status: number;
  challenge: string | null;
  body: { error?: { type: string; code: string; message: string; request_id: string } } & Record<
    string,
    unknown
  >;
  text: string;
}
async function call(url: string, authorization?: string, method = 'POST'): Promise<Answer> {
  const res = await fetch(`${url}/payments${method === 'GET' ? '/pay_1' : ''}`, {
    method,
    headers: {
      'content-type': 'application/json',
      ...(authorization ? { authorization } : {}),
    },
    body: method === 'POST' ? '{}' : undefined,
  });
  const text = await res.text();
  return {
    status: res.status,
    challenge: res.headers.get('www-authenticate'),
    body: JSON.parse(text) as Answer['body'],
    text,
  };
}

describe('caller authentication guard (real keys, real JWKS over HTTP, real Nest app)', () => {
  const jwks = new JwksServer();
  let key: SigningKey;
  let app: INestApplication;
  let url: string;
  const issued: string[] = [];
  const mint = async (...args: Parameters<typeof vaultToken>) => {
    const t = await vaultToken(...args);
    issued.push(t);
    return t;
  };

  beforeAll(async () => {
    key = await signingKey();
    jwks.keys = [key.jwk];
    await jwks.start();
    ({ app, url } = await startApp(optionsFor(jwks)));
  });
  afterAll(async () => {
    await app?.close();
    await jwks.stop();
  });

  it("lets a declared caller through with its route's scope", async () => {
    const res = await call(url, `Bearer ${await mint(key)}`);
    expect(res).toMatchObject({ status: 201, body: { caller: 'checkout' } });
    const read = await call(
      url,
      `Bearer ${await mint(key, { caller: 'support-console', scope: 'payments:read' })}`,
      'GET',
    );
    expect(read).toMatchObject({ status: 200, body: { caller: 'support-console' } });
  });

  it('answers 401 with a Bearer challenge and the error envelope when no token is sent', async () => {
    for (const authorization of [undefined, 'Basic Y2hlY2tvdXQ6eA==', 'Token abc']) {
      const res = await call(url, authorization);
      expect(res.status).toBe(401);
      expect(res.challenge).toBe('Bearer realm="payment-service"');
      expect(res.body.error).toMatchObject({
        type: 'authentication_error',
        code: 'missing_token',
      });
      expect(typeof res.body.error?.request_id).toBe('string');
    }
  });

  it('answers 401 invalid_token to a malformed Authorization header', async () => {
    for (const authorization of ['Bearer', 'Bearer a b', 'Bearer not-a-jwt']) {
      const res = await call(url, authorization);
      expect({ authorization, status: res.status, code: res.body.error?.code }).toEqual({
        authorization,
        status: 401,
        code: 'invalid_token',
      });
      expect(res.challenge).toMatch(/^Bearer realm="payment-service", error="invalid_token"/);
    }
  });

  it('answers 401 invalid_token to every token that is not a valid caller token for this service', async () => {
    const stranger = await signingKey();
    const forged = await vaultToken({ ...stranger, kid: key.kid }); // right kid, wrong key
    const ec = await signingKey('ES256');
    jwks.keys = [key.jwk, ec.jwk];
    const cases: [string, string][] = [
      ['bad signature', forged],
      ['another audience', await mint(key, { aud: 'refund-service' })],
      ['the role client_id of another issuer', await mint(key, { aud: 'checkout' })],
      ['another issuer', await mint(key, { iss: 'http://127.0.0.1:8201/v1/identity/oidc' })],
      ['expired', await mint(key, { iat: now() - 400, exp: now() - 60 })],
      ['not yet valid', await mint(key, { nbf: now() + 120 })],
      ['too old', await mint(key, { iat: now() - 1000, exp: now() + 300 })],
      ['typed as an OAuth access token', await mint(key, { typ: 'at+jwt' })],
      ['typed as another JWT', await mint(key, { typ: 'logout+jwt' })],
      ['no caller claim (another role template)', await mint(key, { caller: null })],
      ['no scope claim', await mint(key, { scope: null })],
      ['an undeclared caller', await mint(key, { caller: 'payment-service' })],
      ['an algorithm off the allow-list', await mint(ec)],
    ];
    for (const [what, token] of cases) {
      const res = await call(url, `Bearer ${token}`);
      expect({ what, status: res.status, code: res.body.error?.code }).toEqual({
        what,
        status: 401,
        code: 'invalid_token',
      });
      expect(res.challenge).toMatch(/error="invalid_token", error_description="[^"]+"$/);
    }
    jwks.keys = [key.jwk];
  });

  it('accepts a token just past exp or before nbf within the leeway, and not beyond', async () => {
    const inside = await mint(key, { iat: now() - 300, exp: now() - 2 });
    expect((await call(url, `Bearer ${inside}`)).status).toBe(201);
    const early = await mint(key, { nbf: now() + 2 });
    expect((await call(url, `Bearer ${early}`)).status).toBe(201);
    const outside = await mint(key, { iat: now() - 300, exp: now() - 30 });
    expect((await call(url, `Bearer ${outside}`)).status).toBe(401);
  });

  it('answers 403 insufficient_scope without the route scope, and 403 to a caller the route does not grant', async () => {
    const readOnly = await call(url, `Bearer ${await mint(key, { scope: 'payments:read' })}`);
    expect(readOnly).toMatchObject({
      status: 403,
      body: { error: { type: 'permission_error', code: 'insufficient_scope' } },
    });
    expect(readOnly.challenge).toBe(
      'Bearer realm="payment-service", error="insufficient_scope", scope="payments:create"',
    );
    // support-console may read payments but not create them, whatever its token claims
    const notGranted = await call(
      url,
      `Bearer ${await mint(key, { caller: 'support-console', scope: 'payments:create' })}`,
    );
    expect(notGranted).toMatchObject({
      status: 403,
      body: { error: { code: 'caller_not_allowed' } },
    });
  });

  it('serves the health routes without a token (declared public)', async () => {
    const res = await fetch(`${url}/health/live`);
    expect(res.status).toBe(200);
  });

  it('never puts a token in a response or a log line', async () => {
    const all = [...issued].map((t) => t.split('.')[1]);
    const res = await call(url, `Bearer ${issued[issued.length - 1]}x`);
    expect(res.status).toBe(401);
    for (const part of all) expect(res.text.includes(part)).toBe(false);
    const logs = logLines.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const part of all) expect(logs.includes(part)).toBe(false);
    expect(logs).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./);
  });
});

describe('caller authentication guard: the issuer key set', () => {
  it('picks up a rotated key without a restart: an unknown kid refetches the key set once', async () => {
    const jwks = new JwksServer();
    const first = await signingKey();
    jwks.keys = [first.jwk];
    await jwks.start();
    const { app, url } = await startApp(optionsFor(jwks, { jwksCooldownMs: 0 }));
    try {
      expect((await call(url, `Bearer ${await vaultToken(first)}`)).status).toBe(201);
      expect(jwks.fetches).toBe(1);
      expect((await call(url, `Bearer ${await vaultToken(first)}`)).status).toBe(201);
      expect(jwks.fetches).toBe(1); // cached
      const second = await signingKey();
      jwks.keys = [first.jwk, second.jwk]; // Vault rotates: the new key is published
      expect((await call(url, `Bearer ${await vaultToken(second)}`)).status).toBe(201);
      expect(jwks.fetches).toBe(2);
      jwks.keys = [second.jwk]; // the old key's verification ttl ends
      expect((await call(url, `Bearer ${await vaultToken(second)}`)).status).toBe(201);
      expect(jwks.fetches).toBe(2);
    } finally {
      await app.close();
      await jwks.stop();
    }
  });

  it('lets concurrent first requests share the one key set fetch (none answers 503)', async () => {
    const jwks = new JwksServer();
    const key = await signingKey();
    jwks.keys = [key.jwk];
    await jwks.start();
    const { app, url } = await startApp(optionsFor(jwks));
    try {
      const token = `Bearer ${await vaultToken(key)}`;
      const answers = await Promise.all(
        Array.from({ length: 20 }, async () => (await call(url, token)).status),
      );
      expect(answers).toEqual(Array.from({ length: 20 }, () => 201));
      expect(jwks.fetches).toBe(1);
    } finally {
      await app.close();
      await jwks.stop();
    }
  });

  it('stops accepting a key the issuer removed once the key set is refetched, and refuses an ambiguous kid', async () => {
    const jwks = new JwksServer();
    const kept = await signingKey();
    const removed = await signingKey();
    jwks.keys = [kept.jwk, removed.jwk];
    await jwks.start();
    const { app, url } = await startApp(optionsFor(jwks, { jwksCacheMaxAgeMs: 0 }));
    try {
      expect((await call(url, `Bearer ${await vaultToken(removed)}`)).status).toBe(201);
      jwks.keys = [kept.jwk];
      expect((await call(url, `Bearer ${await vaultToken(removed)}`)).status).toBe(401);
      expect((await call(url, `Bearer ${await vaultToken(kept)}`)).status).toBe(201);
      // a second key published under the same kid: which one signed is ambiguous
      jwks.keys = [kept.jwk, { ...removed.jwk, kid: kept.jwk.kid }];
      expect((await call(url, `Bearer ${await vaultToken(kept)}`)).status).toBe(401);
    } finally {
      await app.close();
      await jwks.stop();
    }
  });

  it('rate-limits refetches: a flood of unknown kids inside the cooldown fetches nothing more', async () => {
    const jwks = new JwksServer();
    const known = await signingKey();
    jwks.keys = [known.jwk];
    await jwks.start();
    const { app, url } = await startApp(optionsFor(jwks, { jwksCooldownMs: 60_000 }));
    try {
      expect((await call(url, `Bearer ${await vaultToken(known)}`)).status).toBe(201);
      const strangers = await Promise.all(Array.from({ length: 5 }, () => signingKey()));
      const answers = await Promise.all(
        strangers.map(async (k) => (await call(url, `Bearer ${await vaultToken(k)}`)).status),
      );
      expect(answers).toEqual([401, 401, 401, 401, 401]);
      expect(jwks.fetches).toBe(1);
    } finally {
      await app.close();
      await jwks.stop();
    }
  });

  it('answers 503, never 500, when the key set cannot be fetched and none is cached', async () => {
    const key = await signingKey();
    const down = new JwksServer();
    await down.start();
    await down.stop(); // a port with nothing listening
    const failing = new JwksServer();
    failing.failWith = 500;
    await failing.start();
    try {
      for (const jwks of [down, failing]) {
        const { app, url } = await startApp(optionsFor(jwks));
        try {
          const res = await call(url, `Bearer ${await vaultToken(key)}`);
          expect(res.status).toBe(503);
          expect(res.body.error).toMatchObject({ type: 'api_error', code: 'issuer_unavailable' });
        } finally {
          await app.close();
        }
      }
    } finally {
      await failing.stop();
    }
  });

  it('keeps verifying with the last key set while the issuer is unreachable', async () => {
    const jwks = new JwksServer();
    const key = await signingKey();
    jwks.keys = [key.jwk];
    await jwks.start();
    // cacheMaxAge 0: every request wants a fresh key set
    const { app, url } = await startApp(optionsFor(jwks, { jwksCacheMaxAgeMs: 0 }));
    try {
      expect((await call(url, `Bearer ${await vaultToken(key)}`)).status).toBe(201);
      jwks.failWith = 503;
      expect((await call(url, `Bearer ${await vaultToken(key)}`)).status).toBe(201);
      const stranger = await signingKey();
      expect((await call(url, `Bearer ${await vaultToken(stranger)}`)).status).toBe(401);
    } finally {
      await app.close();
      await jwks.stop();
    }
  });
});

describe('caller token verifier: a token verified before', () => {
  const jwks = new JwksServer();
  let key: SigningKey;
  let verifier: CallerTokenVerifier;
  const options = () => optionsFor(jwks, { jwksCooldownMs: 0 });
  const refusal = (token: string) =>
    verifier.verify(token).then(
      () => 'accepted',
      (err: Error) => err.message,
    );
  beforeAll(async () => {
    key = await signingKey();
    jwks.keys = [key.jwk];
    await jwks.start();
  });
  afterAll(() => jwks.stop());
  beforeEach(() => {
    jwks.keys = [key.jwk];
    verifier = new CallerTokenVerifier('payment-service', options());
  });
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('is not verified again: one signature check for repeated uses, the same claims', async () => {
    const token = await vaultToken(key);
    const signatures = jest.spyOn(crypto.subtle, 'verify');
    const first = await verifier.verify(token);
    for (let i = 0; i < 5; i += 1) expect(await verifier.verify(token)).toEqual(first);
    expect(signatures).toHaveBeenCalledTimes(1);
    expect(Object.isFrozen(first) && Object.isFrozen(first.scopes)).toBe(true);
  });

  it('is refused once its exp (plus the leeway) or its maximum age has passed', async () => {
    const { clockToleranceSeconds: leeway, maxTokenAgeSeconds: maxAge } = options();
    const shortLived = await vaultToken(key, { exp: now() + 2 });
    const longLived = await vaultToken(key, { exp: now() + maxAge * 10 });
    expect(await refusal(shortLived)).toBe('accepted');
    expect(await refusal(longLived)).toBe('accepted');
    expect(await refusal(await vaultToken(key, { iat: now() + 60 }))).toMatch(/in the future/);
    // only Date moves: jose and the verifier read the same clock
    jest.useFakeTimers({ now: Date.now(), doNotFake: [...NOT_DATE] });
    jest.setSystemTime(Date.now() + (2 + leeway + 1) * 1000);
    expect(await refusal(shortLived)).toMatch(/token expired/);
    expect(await refusal(longLived)).toBe('accepted');
    jest.setSystemTime(Date.now() + maxAge * 1000);
    expect(await refusal(longLived)).toMatch(/token too old/);
  });

  it('is refused once its key left the key set (a refetch replaces every key)', async () => {
    const token = await vaultToken(key);
    expect(await refusal(token)).toBe('accepted');
    const next = await signingKey();
    jwks.keys = [next.jwk];
    // a token under the new kid makes the verifier refetch the set, which no longer has `key`
    expect(await refusal(await vaultToken(next))).toBe('accepted');
    expect(await refusal(token)).toMatch(/unknown key/);
  });

  it('shares nothing with a token that differs from it by one character', async () => {
    const token = await vaultToken(key);
    expect(await refusal(token)).toBe('accepted');
    const [header, payload, signature] = token.split('.');
    const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    expect(await refusal(`${header}.${payload}.${flipped}`)).toMatch(/bad signature|malformed/);
    const otherAudience = JSON.parse(Buffer.from(payload, 'base64url').toString());
    otherAudience.aud = 'refund-service';
    const forged = Buffer.from(JSON.stringify(otherAudience)).toString('base64url');
    expect(await refusal(`${header}.${forged}.${signature}`)).toMatch(/bad signature/);
  });
});

/** Every timer API jest can fake, except Date. */
const NOT_DATE = [
  'hrtime',
  'nextTick',
  'performance',
  'queueMicrotask',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'requestIdleCallback',
  'cancelIdleCallback',
  'setImmediate',
  'clearImmediate',
  'setInterval',
  'clearInterval',
  'setTimeout',
  'clearTimeout',
] as const;

describe('caller authentication: routes against the access matrix', () => {
  const jwks = new JwksServer();
  beforeAll(() => jwks.start());
  afterAll(() => jwks.stop());

  it('refuses to start when a handler is not declared in the matrix', async () => {
    @Controller('payments')
    class Extra {
      @Post(':id/capture')
      capture() {
        return {};
      }
    }
    await expect(startApp(optionsFor(jwks), [Extra])).rejects.toThrow(RouteDeclarationError);
  });

  it('denies an undeclared route whatever the token (default deny)', async () => {
    const key = await signingKey();
    jwks.keys = [key.jwk];
    const verifier = new CallerTokenVerifier('payment-service', optionsFor(jwks));
    const guard = new CallerAuthGuard('payment-service', verifier);
    class Admin {
      drop() {
        return undefined;
      }
    }
    Controller('admin')(Admin);
    const descriptor = Object.getOwnPropertyDescriptor(Admin.prototype, 'drop')!;
    Post('drop')(Admin.prototype, 'drop', descriptor);
    const token = await vaultToken(key);
    const context = {
      getHandler: () => descriptor.value as object,
      getClass: () => Admin,
      switchToHttp: () => ({
        getRequest: () => ({ headers: { authorization: `Bearer ${token}` } }),
      }),
    } as never;
    await expect(guard.canActivate(context)).rejects.toMatchObject({
      status: 403,
      code: 'route_not_declared',
    });
  });
});

describe('caller auth config', () => {
  it('defaults the issuer and the JWKS from VAULT_ADDR, and refuses a leeway above 10 s', () => {
    const c = readCallerAuthConfig('payment-service', { VAULT_ADDR: 'http://vault:8200/' });
    expect(c).toMatchObject({
      issuer: 'http://vault:8200/v1/identity/oidc',
      jwksUrl: 'http://vault:8200/v1/identity/oidc/.well-known/keys',
      algorithms: ['RS256'],
      clockToleranceSeconds: 5,
    });
    expect(() =>
      readCallerAuthConfig('payment-service', {
        VAULT_ADDR: 'http://vault:8200',
        CALLER_TOKEN_LEEWAY_SECONDS: '60',
      }),
    ).toThrow(/CALLER_TOKEN_LEEWAY_SECONDS/);
    expect(() =>
      readCallerAuthConfig('payment-service', {
        VAULT_ADDR: 'http://vault:8200',
        CALLER_TOKEN_ALGORITHMS: 'none',
      }),
    ).toThrow(/CALLER_TOKEN_ALGORITHMS/);
  });
});
