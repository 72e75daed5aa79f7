import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { startVaultDev, type VaultDevHandle } from '@lpi/testing';
import { approleLogin, vaultCaller } from '../spec-helpers';

let vault: VaultDevHandle;
const call = vaultCaller(() => vault.addr);
const root = () => vault.rootToken;
const decode = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;

beforeAll(async () => {
  vault = await startVaultDev();
  await call('POST', 'sys/auth/approle', root(), { type: 'approle' });
});
afterAll(async () => {
  await vault?.stop();
});

/** a policy that may read only identity/oidc/token/<role> */
async function tokenPolicy(role: string): Promise<string> {
  await call('PUT', `sys/policies/acl/oidc-${role}`, root(), {
    policy: `path "identity/oidc/token/${role}" { capabilities = ["read"] }`,
  });
  return `oidc-${role}`;
}

describe('identity/oidc named keys and roles', () => {
  it('creates, reads, lists and validates keys with Vault defaults and messages', async () => {
    expect((await call('POST', 'identity/oidc/key/k1', root(), {})).status).toBe(204);
    expect((await call('GET', 'identity/oidc/key/k1', root())).body).toMatchObject({
      data: {
        algorithm: 'RS256',
        allowed_client_ids: [],
        rotation_period: 86400,
        verification_ttl: 86400,
      },
      mount_type: 'identity',
      wrap_info: null,
    });
    const bad = async (body: object) =>
      (await call('POST', 'identity/oidc/key/bad', root(), body)).body.errors;
    expect(await bad({ rotation_period: '30s' })).toEqual([
      'rotation_period must be at least one minute',
    ]);
    expect(await bad({ rotation_period: '1m', verification_ttl: '11m' })).toEqual([
      'verification_ttl cannot be longer than 10x rotation_period',
    ]);
    expect(await bad({ algorithm: 'HS256' })).toEqual(['unknown signing algorithm "HS256"']);
    expect((await call('GET', 'identity/oidc/key/bad', root())).body).toEqual({ errors: [] });
    expect((await call('GET', 'identity/oidc/key?list=true', root())).body.data.keys).toContain(
      'k1',
    );
    expect((await call('DELETE', 'identity/oidc/key/default', root())).body.errors).toEqual([
      'deletion of key "default" not allowed',
    ]);
    expect((await call('POST', 'identity/oidc/key/nope/rotate', root())).body.errors).toEqual([
      'no named key found at "nope"',
    ]);
  });

  it('creates roles with a generated 26-character client_id and validates templates', async () => {
    expect(
      (await call('POST', 'identity/oidc/role/r1', root(), { key: 'k1', ttl: '1h' })).status,
    ).toBe(204);
    const role = (await call('GET', 'identity/oidc/role/r1', root())).body.data;
    expect(role).toEqual({
      client_id: expect.stringMatching(/^[A-Za-z0-9]{26}$/),
      key: 'k1',
      template: '',
      ttl: 3600,
    });
    // an update keeps the client_id
    await call('POST', 'identity/oidc/role/r1', root(), { ttl: '2h' });
    expect((await call('GET', 'identity/oidc/role/r1', root())).body.data.client_id).toBe(
      role.client_id,
    );
    const bad = async (body: object) =>
      (await call('POST', 'identity/oidc/role/bad', root(), body)).body.errors?.[0] as string;
    expect(await bad({})).toBe('the key parameter is required');
    expect(await bad({ key: 'missing' })).toBe('cannot find key "missing"');
    expect(await bad({ key: 'k1', ttl: '25h' })).toBe(
      "a role's token ttl cannot be longer than the verification_ttl of the key it references",
    );
    expect(await bad({ key: 'k1', template: '{"aud": "x"}' })).toMatch(
      /^top level key "aud" not allowed/,
    );
    expect(await bad({ key: 'k1', template: '{"a":{"b":1}}' })).toBe(
      'error parsing template: unbalanced templating characters',
    );
    expect(await bad({ key: 'k1', template: '{"e": "{{identity.entity.name}}"}' })).toMatch(
      /^error parsing template JSON: /,
    );
    // base64 templates are decoded and read back decoded
    const tpl = '{"svc": {{identity.entity.name}} }';
    await call('POST', 'identity/oidc/role/r64', root(), {
      key: 'k1',
      ttl: '1h',
      template: Buffer.from(tpl).toString('base64'),
    });
    expect((await call('GET', 'identity/oidc/role/r64', root())).body.data.template).toBe(tpl);
    // a key referenced by a role cannot be deleted, nor shrunk below its roles' ttl
    expect((await call('DELETE', 'identity/oidc/key/k1', root())).body.errors).toEqual([
      'unable to delete key "k1" because it is currently referenced by these roles: r1, r64',
    ]);
    expect(
      (await call('POST', 'identity/oidc/key/k1', root(), { verification_ttl: '1h' })).body.errors,
    ).toEqual([
      'unable to update key "k1" because it is currently referenced by one or more roles with a token ttl greater than 3600 seconds',
    ]);
  });
});

describe('identity tokens', () => {
  let clientId: string;
  beforeAll(async () => {
    await call('POST', 'identity/oidc/key/svc', root(), { allowed_client_ids: '*' });
    await call('POST', 'identity/oidc/role/payment', root(), {
      key: 'svc',
      ttl: '15m',
      template:
        '{"role": {{identity.entity.aliases.APPROLE.metadata.role_name}}, "meta": {{identity.entity.metadata}}, "nbf": {{time.now}} }',
    });
    clientId = (await call('GET', 'identity/oidc/role/payment', root())).body.data.client_id;
  });

  it('issues a JWT for the caller entity that verifies against discovery and JWKS', async () => {
    const accessor = (await call('GET', 'sys/auth', root())).body['approle/'].accessor as string;
    expect(accessor).toMatch(/^auth_approle_[0-9a-f]{8}$/);
    const template = `{"role": {{identity.entity.aliases.${accessor}.metadata.role_name}}, "meta": {{identity.entity.metadata}}, "nbf": {{time.now}} }`;
    await call('POST', 'identity/oidc/role/payment', root(), { template });
    const login = await approleLogin(call, root(), 'payment-svc', [await tokenPolicy('payment')]);
    expect(login.entityId).toMatch(/^[0-9a-f-]{36}$/);

    const res = await call('GET', 'identity/oidc/token/payment', login.token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      data: { client_id: clientId, token: expect.any(String), ttl: 900 },
      lease_id: '',
      auth: null,
      mount_type: 'identity',
    });
    const jwt = res.body.data.token as string;
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: 'RS256', kid: expect.any(String) });
    const claims = decode(jwt);
    expect(Object.keys(claims)).toEqual([...Object.keys(claims)].sort()); // a Go map: sorted
    expect(claims).toEqual({
      aud: clientId,
      exp: (claims.iat as number) + 900,
      iat: expect.any(Number),
      iss: `${vault.addr}/v1/identity/oidc`,
      meta: {},
      namespace: 'root',
      nbf: claims.iat,
      role: 'payment-svc',
      sub: login.entityId,
    });

    // discovery and JWKS: unauthenticated, raw bodies
    const discovery = await call('GET', 'identity/oidc/.well-known/openid-configuration');
    expect(discovery.headers.get('cache-control')).toBe('max-age=3600');
    expect(discovery.body).toEqual({
      issuer: `${vault.addr}/v1/identity/oidc`,
      jwks_uri: `${vault.addr}/v1/identity/oidc/.well-known/keys`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [
        'RS256',
        'RS384',
        'RS512',
        'ES256',
        'ES384',
        'ES512',
        'EdDSA',
      ],
    });
    const verified = await jwtVerify(jwt, createRemoteJWKSet(new URL(discovery.body.jwks_uri)), {
      issuer: discovery.body.issuer,
      audience: clientId,
    });
    expect(verified.payload.sub).toBe(login.entityId);
  });

  it('keeps sub stable per role across logins and distinct across roles', async () => {
    const policy = await tokenPolicy('payment');
    const a = await approleLogin(call, root(), 'stable-a', [policy]);
    const a2 = await approleLogin(call, root(), 'stable-a', [policy]);
    const b = await approleLogin(call, root(), 'stable-b', [policy]);
    expect(a2.entityId).toBe(a.entityId);
    expect(b.entityId).not.toBe(a.entityId);
    const sub = async (t: string) =>
      decode((await call('GET', 'identity/oidc/token/payment', t)).body.data.token).sub;
    expect(await sub(a2.token)).toBe(a.entityId);
    expect(await sub(b.token)).toBe(b.entityId);
    expect((await call('GET', 'auth/token/lookup-self', a.token)).body.data.entity_id).toBe(
      a.entityId,
    );
    const entity = await call('GET', `identity/entity/id/${a.entityId}`, root());
    expect(entity.body.data).toMatchObject({
      id: a.entityId,
      name: expect.stringMatching(/^entity_[0-9a-f]{8}$/),
      aliases: [{ name: a.roleId, mount_type: 'approle', mount_path: 'auth/approle/' }],
    });
  });

  it('applies the ACL, the entity requirement and allowed_client_ids in Vault order', async () => {
    const other = await approleLogin(call, root(), 'no-oidc', ['default']);
    expect((await call('GET', 'identity/oidc/token/payment', other.token)).body.errors[0]).toMatch(
      /permission denied/,
    );
    // a POST is not a read: there is no POST handler and the policy grants only read
    const login = await approleLogin(call, root(), 'payment-svc', [await tokenPolicy('payment')]);
    expect((await call('POST', 'identity/oidc/token/payment', login.token)).status).toBe(403);
    expect((await call('GET', 'identity/oidc/token/payment', root())).body).toEqual({
      errors: ["no entity associated with the request's token"],
    });
    // a key that does not list the role's client_id refuses to sign
    await call('POST', 'identity/oidc/key/closed', root(), { allowed_client_ids: 'someone-else' });
    await call('POST', 'identity/oidc/role/closed', root(), { key: 'closed', ttl: '1h' });
    const closed = await approleLogin(call, root(), 'closed-svc', [await tokenPolicy('closed')]);
    expect((await call('GET', 'identity/oidc/token/closed', closed.token)).body).toEqual({
      errors: [
        'the key "closed" does not list the client ID of the role "closed" as an allowed client ID',
      ],
    });
    expect((await call('GET', 'identity/oidc/token/missing', root())).body).toEqual({
      errors: ['role "missing" not found'],
    });
  });

  it('signs with ES256 keys', async () => {
    await call('POST', 'identity/oidc/key/ec', root(), {
      algorithm: 'ES256',
      allowed_client_ids: ['*'],
    });
    await call('POST', 'identity/oidc/role/ec', root(), { key: 'ec', ttl: '1h' });
    const login = await approleLogin(call, root(), 'ec-svc', [await tokenPolicy('ec')]);
    const res = await call('GET', 'identity/oidc/token/ec', login.token);
    const jwt = res.body.data.token as string;
    expect(decodeProtectedHeader(jwt).alg).toBe('ES256');
    const jwks = createRemoteJWKSet(new URL(`${vault.addr}/v1/identity/oidc/.well-known/keys`));
    await expect(
      jwtVerify(jwt, jwks, {
        issuer: `${vault.addr}/v1/identity/oidc`,
        audience: res.body.data.client_id,
      }),
    ).resolves.toBeDefined();
  });

  it('rotates: the pre-published key signs next, the old one verifies for verification_ttl', async () => {
    await call('POST', 'identity/oidc/key/rot', root(), { allowed_client_ids: ['*'] });
    await call('POST', 'identity/oidc/role/rot', root(), { key: 'rot', ttl: '1h' });
    const login = await approleLogin(call, root(), 'rot-svc', [await tokenPolicy('rot')]);
    const issue = async () =>
      (await call('GET', 'identity/oidc/token/rot', login.token)).body.data.token as string;
    const kids = async () =>
      ((await call('GET', 'identity/oidc/.well-known/keys')).body.keys as { kid: string }[]).map(
        (k) => k.kid,
      );
    const before = await issue();
    const published = await kids();
    const oldKid = decodeProtectedHeader(before).kid!;
    expect(published).toContain(oldKid);
    expect((await call('POST', 'identity/oidc/key/rot/rotate', root())).status).toBe(204);
    const after = await issue();
    const newKid = decodeProtectedHeader(after).kid!;
    expect(newKid).not.toBe(oldKid);
    expect(published).toContain(newKid); // it was pre-published before the rotation
    const introspect = async (token: string) =>
      (await call('POST', 'identity/oidc/introspect', root(), { token })).body;
    expect(await introspect(before)).toEqual({ active: true });
    // a rotation with verification_ttl 0 drops the outgoing key at once
    await call('POST', 'identity/oidc/key/rot/rotate', root(), { verification_ttl: 0 });
    expect(await kids()).not.toContain(newKid);
    expect(await kids()).toContain(oldKid); // still within its verification_ttl
    expect(await introspect(after)).toEqual({
      active: false,
      error: 'unable to validate the token signature',
    });
  });

  it('introspects: audience, garbage and a disabled entity', async () => {
    const login = await approleLogin(call, root(), 'intro-svc', [await tokenPolicy('payment')]);
    const jwt = (await call('GET', 'identity/oidc/token/payment', login.token)).body.data.token;
    const introspect = async (body: object) => {
      const res = await call('POST', 'identity/oidc/introspect', root(), body);
      expect(res.status).toBe(200);
      return res.body;
    };
    expect(await introspect({ token: jwt, client_id: clientId })).toEqual({ active: true });
    expect(await introspect({ token: jwt, client_id: 'other' })).toEqual({
      active: false,
      error: expect.stringMatching(/^error validating claims: .*aud/),
    });
    expect((await introspect({ token: 'not-a-jwt' })).error).toMatch(/^error parsing token: /);
    await call('POST', `identity/entity/id/${login.entityId}`, root(), { disabled: true });
    expect(await introspect({ token: jwt })).toEqual({
      active: false,
      error: 'entity is disabled',
    });
    // and a disabled entity can no longer log in
    await expect(approleLogin(call, root(), 'intro-svc', [])).rejects.toThrow(/403/);
  });

  it('uses a configured issuer, validated like Vault', async () => {
    expect(
      (await call('POST', 'identity/oidc/config', root(), { issuer: 'https://x.test/path' })).body
        .errors,
    ).toEqual([
      'invalid issuer, which must include only a scheme, host, and optional port (e.g. https://example.com:8200)',
    ]);
    const set = await call('POST', 'identity/oidc/config', root(), {
      issuer: 'https://vault.test:8200',
    });
    expect(set.status).toBe(200);
    expect(set.body.warnings[0]).toMatch(/^If "issuer" is set explicitly/);
    expect((await call('GET', 'identity/oidc/config', root())).body.data).toEqual({
      issuer: 'https://vault.test:8200',
    });
    const login = await approleLogin(call, root(), 'payment-svc', [await tokenPolicy('payment')]);
    const jwt = (await call('GET', 'identity/oidc/token/payment', login.token)).body.data.token;
    expect(decode(jwt).iss).toBe('https://vault.test:8200/v1/identity/oidc');
    expect((await call('POST', 'identity/oidc/config', root(), { issuer: '' })).status).toBe(204);
  });
});
