import nodeVault from 'node-vault';
import { SERVICE_NAMES, allVaultPolicies, secretDataPathOf } from '@lpi/access-matrix';
import { startTokenReview, startVaultDev, type VaultDevHandle } from '@lpi/testing';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Vault JSON bodies, asserted field by field
type Json = Record<string, any>;
let vault: VaultDevHandle;
const call = async (
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
) => {
  const res = await fetch(`${vault.addr}/v1/${path}`, {
    method,
    headers: {
      ...(token ? { 'x-vault-token': token } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as Json };
};

beforeAll(async () => {
  vault = await startVaultDev();
});
afterAll(async () => {
  await vault?.stop();
});

describe('vault-dev wire format', () => {
  it('answers with Vault envelopes, 204s and error bodies', async () => {
    const root = vault.rootToken;
    expect((await call('GET', 'sys/health')).body).toMatchObject({
      initialized: true,
      sealed: false,
    });
    expect(
      (
        await call('POST', 'sys/policies/acl/demo', root, {
          policy: 'path "secret/data/demo" { capabilities = ["read"] }',
        })
      ).status,
    ).toBe(204);
    const write = await call('POST', 'secret/data/demo', root, { data: { a: '1' } });
    expect(write.status).toBe(200);
    expect(write.body).toMatchObject({
      request_id: expect.any(String),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      wrap_info: null,
      warnings: null,
      auth: null,
      mount_type: 'kv',
      data: { version: 1, destroyed: false },
    });
    const read = await call('GET', 'secret/data/demo', root);
    expect(read.body.data).toMatchObject({ data: { a: '1' }, metadata: { version: 1 } });
    expect(await call('GET', 'secret/data/nothing', root)).toEqual({
      status: 404,
      body: { errors: [] },
    });
    const cas = await call('POST', 'secret/data/demo', root, {
      data: { a: '2' },
      options: { cas: 0 },
    });
    expect(cas.status).toBe(400);
    expect(cas.body.errors[0]).toMatch(/check-and-set/);
    const bad = await call('GET', 'secret/data/demo', 'hvs.not-a-token');
    expect(bad.status).toBe(403);
    expect(bad.body.errors[0]).toMatch(/permission denied/);
    expect(bad.body.errors[0]).toMatch(/invalid token/);
    const mounts = await call('GET', 'sys/mounts', root);
    expect(mounts.body['secret/']).toMatchObject({ type: 'kv', options: { version: '2' } }); // injected at top level too
  });

  it('works with a real third-party client (node-vault)', async () => {
    const client = nodeVault({ apiVersion: 'v1', endpoint: vault.addr, token: vault.rootToken });
    await client.write('secret/data/third-party', { data: { hello: 'world' } });
    const res = await client.read('secret/data/third-party');
    expect(res.data.data).toEqual({ hello: 'world' });
    const health = await client.health();
    expect(health.sealed).toBe(false);
    await client.addApproleRole?.({ role_name: 'x' }).catch(() => undefined);
    await expect(
      nodeVault({ apiVersion: 'v1', endpoint: vault.addr, token: 'hvs.bogus' }).read(
        'secret/data/third-party',
      ),
    ).rejects.toThrow(/permission denied/);
  });
});

describe('per-service identities with the generated policies', () => {
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    const root = vault.rootToken;
    await call('POST', 'sys/auth/approle', root, { type: 'approle' });
    for (const [service, hcl] of Object.entries(allVaultPolicies())) {
      await call('PUT', `sys/policies/acl/${service}`, root, { policy: hcl });
      await call('POST', `secret/data/${service}`, root, { data: { client_id: service } });
      await call('POST', `auth/approle/role/${service}`, root, {
        token_policies: [service],
        secret_id_num_uses: 1,
        token_ttl: '1h',
      });
      const roleId = (await call('GET', `auth/approle/role/${service}/role-id`, root)).body.data
        .role_id;
      const secretId = (await call('POST', `auth/approle/role/${service}/secret-id`, root)).body
        .data.secret_id;
      const login = await call('POST', 'auth/approle/login', undefined, {
        role_id: roleId,
        secret_id: secretId,
      });
      tokens[service] = login.body.auth.client_token;
      // single use: the same secret-id cannot log in twice
      const again = await call('POST', 'auth/approle/login', undefined, {
        role_id: roleId,
        secret_id: secretId,
      });
      expect(again.status).toBe(400);
      expect(again.body.errors[0]).toBe('invalid role or secret ID');
    }
  });

  it.each(SERVICE_NAMES)(
    '%s reads its own path and gets 403 on every other one',
    async (service) => {
      expect((await call('GET', secretDataPathOf(service), tokens[service])).status).toBe(200);
      for (const other of SERVICE_NAMES.filter((s) => s !== service)) {
        const res = await call('GET', secretDataPathOf(other), tokens[service]);
        expect({ other, status: res.status }).toEqual({ other, status: 403 });
        expect(
          (await call('POST', secretDataPathOf(other), tokens[service], { data: { x: 1 } })).status,
        ).toBe(403);
        // Node's HTTP parser has no LIST verb: vault-dev supports Vault's equivalent ?list=true
        expect((await call('GET', 'secret/metadata/?list=true', tokens[service])).status).toBe(403);
      }
      const caps = await call('POST', 'sys/capabilities-self', tokens[service], {
        paths: SERVICE_NAMES.map(secretDataPathOf),
      });
      for (const other of SERVICE_NAMES)
        expect(caps.body.data[secretDataPathOf(other)]).toEqual(
          other === service ? ['read'] : ['deny'],
        );
      // no creating policies, tokens or secret-ids
      expect(
        (
          await call('PUT', 'sys/policies/acl/evil', tokens[service], {
            policy: 'path "*" { capabilities = ["sudo"] }',
          })
        ).status,
      ).toBe(403);
      expect(
        (await call('POST', `auth/approle/role/${service}/secret-id`, tokens[service])).status,
      ).toBe(403);
      expect(
        (await call('POST', 'sys/auth/evil', tokens[service], { type: 'approle' })).status,
      ).toBe(403);
    },
  );

  it('unwraps a wrapped secret-id exactly once, and shows where it was created', async () => {
    const root = vault.rootToken;
    const wrapped = await call(
      'POST',
      'auth/approle/role/payment-service/secret-id',
      root,
      undefined,
      { 'x-vault-wrap-ttl': '60s' },
    );
    expect(wrapped.body.data).toBeNull();
    const wrapToken = wrapped.body.wrap_info.token;
    expect(wrapped.body.wrap_info.creation_path).toBe(
      'auth/approle/role/payment-service/secret-id',
    );
    const lookup = await call('POST', 'sys/wrapping/lookup', undefined, { token: wrapToken });
    expect(lookup.body.data.creation_path).toBe('auth/approle/role/payment-service/secret-id');
    const first = await call('POST', 'sys/wrapping/unwrap', wrapToken);
    expect(first.body.data.secret_id).toEqual(expect.any(String));
    const second = await call('POST', 'sys/wrapping/unwrap', wrapToken);
    expect(second).toEqual({
      status: 400,
      body: { errors: ['wrapping token is not valid or does not exist'] },
    });
  });

  it('renews and revokes a token itself, capped by the max TTL', async () => {
    const t = tokens['refund-service'];
    const self = await call('GET', 'auth/token/lookup-self', t);
    expect(self.body.data.policies).toEqual(['default', 'refund-service']);
    const renewed = await call('POST', 'auth/token/renew-self', t, { increment: '1h' });
    expect(renewed.body.auth.lease_duration).toBeGreaterThan(3500);
    expect((await call('POST', 'auth/token/revoke-self', t)).status).toBe(204);
    expect((await call('GET', 'auth/token/lookup-self', t)).status).toBe(403);
  });
});

describe('Kubernetes auth against a TokenReview endpoint', () => {
  it('logs in a bound service account and refuses others', async () => {
    // a stand-in for the Kubernetes API's TokenReview (what real Vault calls, too)
    const review = await startTokenReview({
      'sa-payment': 'system:serviceaccount:payments:payment-service',
      'sa-other': 'system:serviceaccount:payments:intruder',
    });
    try {
      const root = vault.rootToken;
      await call('POST', 'sys/auth/kubernetes', root, { type: 'kubernetes' });
      await call('POST', 'auth/kubernetes/config', root, {
        kubernetes_host: review.url,
      });
      await call('POST', 'auth/kubernetes/role/payment-service', root, {
        bound_service_account_names: ['payment-service'],
        bound_service_account_namespaces: ['payments'],
        token_policies: ['payment-service'],
      });
      const ok = await call('POST', 'auth/kubernetes/login', undefined, {
        role: 'payment-service',
        jwt: 'sa-payment',
      });
      expect(ok.status).toBe(200);
      expect(ok.body.auth.policies).toEqual(['default', 'payment-service']);
      // one service account, one entity: a second login links to the same one (sub is stable)
      expect(ok.body.auth.entity_id).toMatch(/^[0-9a-f-]{36}$/);
      const again = await call('POST', 'auth/kubernetes/login', undefined, {
        role: 'payment-service',
        jwt: 'sa-payment',
      });
      expect(again.body.auth.entity_id).toBe(ok.body.auth.entity_id);
      const entity = await call('GET', `identity/entity/id/${ok.body.auth.entity_id}`, root);
      expect(entity.body.data.aliases[0]).toMatchObject({
        mount_type: 'kubernetes',
        metadata: {
          service_account_name: 'payment-service',
          service_account_namespace: 'payments',
        },
      });
      expect(
        (await call('GET', secretDataPathOf('payment-service'), ok.body.auth.client_token)).status,
      ).toBe(200);
      expect(
        (
          await call('POST', 'auth/kubernetes/login', undefined, {
            role: 'payment-service',
            jwt: 'sa-other',
          })
        ).status,
      ).toBe(403);
      expect(
        (
          await call('POST', 'auth/kubernetes/login', undefined, {
            role: 'payment-service',
            jwt: 'forged',
          })
        ).status,
      ).toBe(403);
    } finally {
      await review.stop();
    }
  });
});
