import { startVaultDev, type VaultDevHandle } from '@lpi/testing';
import { approleLogin, vaultCaller } from '../spec-helpers';

let vault: VaultDevHandle;
const call = vaultCaller(() => vault.addr);
const root = () => vault.rootToken;

const policy = (name: string, rules: Record<string, string[]>) =>
  call('PUT', `sys/policies/acl/${name}`, root(), {
    policy: Object.entries(rules)
      .map(([p, caps]) => `path "${p}" { capabilities = ${JSON.stringify(caps)} }`)
      .join('\n'),
  });

/** what Vault answers to a revoked, expired or unknown token */
const expectInvalid = (res: { status: number; body: Record<string, string[]> }) => {
  expect(res.status).toBe(403);
  expect(res.body.errors[0]).toMatch(/permission denied/);
  expect(res.body.errors[0]).toMatch(/invalid token/);
};

beforeAll(async () => {
  vault = await startVaultDev();
  await call('POST', 'sys/auth/approle', root(), { type: 'approle' });
  await policy('creator', {
    'auth/token/create': ['update'],
    'auth/token/accessors': ['list'],
    'auth/token/revoke-orphan': ['update'],
    'sys/leases/revoke-prefix/*': ['update'],
  });
  await policy('operator', {
    'auth/token/accessors': ['list', 'sudo'],
    'auth/token/lookup-accessor': ['update'],
    'sys/leases/revoke-prefix/*': ['update', 'sudo'],
    'sys/leases/lookup/*': ['list', 'sudo'],
  });
  await policy('extra', { 'secret/data/x': ['read'] });
});
afterAll(async () => {
  await vault?.stop();
});

describe('token accessors', () => {
  it('looks a token up by accessor without revealing it, and lists accessors only with sudo', async () => {
    const svc = await approleLogin(call, root(), 'svc', ['extra']);
    const byAccessor = await call('POST', 'auth/token/lookup-accessor', root(), {
      accessor: svc.accessor,
    });
    expect(byAccessor.body.data).toMatchObject({
      id: '',
      accessor: svc.accessor,
      policies: ['default', 'extra'],
      path: 'auth/approle/login',
      display_name: 'approle',
      entity_id: svc.entityId,
      orphan: true,
    });
    expect(
      (await call('POST', 'auth/token/lookup-accessor', root(), { accessor: 'nope' })).body,
    ).toEqual({ errors: ['invalid accessor'] });
    const creator = await approleLogin(call, root(), 'creator', ['creator']);
    expect((await call('GET', 'auth/token/accessors?list=true', creator.token)).status).toBe(403);
    const operator = await approleLogin(call, root(), 'operator', ['operator']);
    const list = await call('GET', 'auth/token/accessors?list=true', operator.token);
    expect(list.status).toBe(200);
    expect(list.body.data.keys).toEqual(expect.arrayContaining([svc.accessor, operator.accessor]));
    expect(list.body.data.keys.join()).not.toContain(svc.token);
  });
});

describe('auth/token/create', () => {
  it('gives a child only policies its parent holds, unless root or sudo', async () => {
    const parent = await approleLogin(call, root(), 'creator', ['creator']);
    const denied = await call('POST', 'auth/token/create', parent.token, {
      policies: ['extra'],
    });
    expect(denied.body).toEqual({ errors: ['child policies must be subset of parent'] });
    const orphan = await call('POST', 'auth/token/create', parent.token, { no_parent: true });
    expect(orphan.body).toEqual({
      errors: ['root or sudo privileges required to create orphan token'],
    });
    const child = await call('POST', 'auth/token/create', parent.token, {
      policies: ['creator'],
      ttl: '10m',
    });
    expect(child.body.auth).toMatchObject({
      policies: ['creator', 'default'],
      lease_duration: 600,
      orphan: false,
      entity_id: parent.entityId, // inherited from the parent
      accessor: expect.any(String),
    });
    const inherited = await call('POST', 'auth/token/create', parent.token, {});
    expect(inherited.body.auth.policies).toEqual(['creator', 'default']);
    const byRoot = await call('POST', 'auth/token/create', root(), { policies: ['extra'] });
    expect(byRoot.body.auth).toMatchObject({ policies: ['default', 'extra'], entity_id: '' });
  });

  it('counts num_uses: the last use is served, then the token is gone', async () => {
    const t = (
      await call('POST', 'auth/token/create', root(), { policies: ['extra'], num_uses: 2 })
    ).body.auth.client_token as string;
    expect((await call('GET', 'auth/token/lookup-self', t)).status).toBe(200);
    expect((await call('GET', 'auth/token/lookup-self', t)).body.data.num_uses).toBe(0);
    expectInvalid(await call('GET', 'auth/token/lookup-self', t));
  });
});

describe('revocation', () => {
  const create = async (parent: string, body: object = {}) =>
    (await call('POST', 'auth/token/create', parent, { policies: ['creator'], ...body })).body
      .auth as {
      client_token: string;
      accessor: string;
    };

  it('revokes a token with its children, by token, by accessor and itself', async () => {
    const parent = await create(root());
    const child = await create(parent.client_token);
    const grandchild = await create(child.client_token);
    expect(
      (await call('POST', 'auth/token/revoke', root(), { token: parent.client_token })).status,
    ).toBe(204);
    for (const t of [parent, child, grandchild])
      expectInvalid(await call('GET', 'auth/token/lookup-self', t.client_token));

    const a = await create(root());
    expect(
      (await call('POST', 'auth/token/revoke-accessor', root(), { accessor: a.accessor })).status,
    ).toBe(204);
    expectInvalid(await call('GET', 'secret/data/x', a.client_token));
    expect(
      (await call('POST', 'auth/token/revoke-accessor', root(), { accessor: a.accessor })).body,
    ).toEqual({ errors: ['invalid accessor'] });

    const self = await create(root());
    const selfChild = await create(self.client_token);
    expect((await call('POST', 'auth/token/revoke-self', self.client_token)).status).toBe(204);
    expectInvalid(await call('POST', 'auth/token/renew-self', self.client_token, {}));
    expectInvalid(await call('GET', 'auth/token/lookup-self', selfChild.client_token));
  });

  it('revoke-orphan keeps the children, as orphans, and needs sudo', async () => {
    const parent = await create(root());
    const child = await create(parent.client_token);
    const creator = await approleLogin(call, root(), 'creator', ['creator']);
    expect(
      (
        await call('POST', 'auth/token/revoke-orphan', creator.token, {
          token: parent.client_token,
        })
      ).body,
    ).toEqual({ errors: ['root or sudo privileges required to revoke and orphan'] });
    expect(
      (await call('POST', 'auth/token/revoke-orphan', root(), { token: parent.client_token }))
        .status,
    ).toBe(204);
    expectInvalid(await call('GET', 'auth/token/lookup-self', parent.client_token));
    const survivor = await call('GET', 'auth/token/lookup-self', child.client_token);
    expect(survivor.body.data.orphan).toBe(true);
  });

  it('a revoked wrapping token cannot be unwrapped', async () => {
    const wrapped = await call('POST', 'auth/approle/role/svc/secret-id', root(), undefined, {
      'x-vault-wrap-ttl': '60s',
    });
    const { token, accessor } = wrapped.body.wrap_info;
    await call('POST', 'auth/token/revoke-accessor', root(), { accessor });
    expect(await call('POST', 'sys/wrapping/unwrap', token)).toMatchObject({
      status: 400,
      body: { errors: ['wrapping token is not valid or does not exist'] },
    });
  });
});

describe('AppRole secret-id management', () => {
  it('looks up, lists and destroys secret-ids by value and by accessor', async () => {
    await call('POST', 'auth/approle/role/sids', root(), { token_policies: ['extra'] });
    const gen = async () =>
      (
        await call('POST', 'auth/approle/role/sids/secret-id', root(), {
          metadata: '{"host":"a"}',
        })
      ).body.data as { secret_id: string; secret_id_accessor: string };
    const one = await gen();
    const two = await gen();
    const lookup = await call('POST', 'auth/approle/role/sids/secret-id/lookup', root(), {
      secret_id: one.secret_id,
    });
    expect(lookup.body.data).toMatchObject({
      secret_id_accessor: one.secret_id_accessor,
      metadata: { host: 'a' },
      secret_id_num_uses: 0,
      expiration_time: '0001-01-01T00:00:00Z',
      cidr_list: [],
    });
    expect(lookup.body.data).not.toHaveProperty('secret_id');
    const list = await call('GET', 'auth/approle/role/sids/secret-id?list=true', root());
    expect(list.body.data.keys).toEqual([one.secret_id_accessor, two.secret_id_accessor].sort());
    const byAccessor = await call(
      'POST',
      'auth/approle/role/sids/secret-id-accessor/lookup',
      root(),
      {
        secret_id_accessor: two.secret_id_accessor,
      },
    );
    expect(byAccessor.body.data.metadata).toEqual({ host: 'a' });

    expect(
      (
        await call('POST', 'auth/approle/role/sids/secret-id/destroy', root(), {
          secret_id: one.secret_id,
        })
      ).status,
    ).toBe(204);
    expect(
      (
        await call('POST', 'auth/approle/role/sids/secret-id/lookup', root(), {
          secret_id: one.secret_id,
        })
      ).status,
    ).toBe(204); // Vault: an unknown secret-id looks up as 204
    expect(
      (
        await call('POST', 'auth/approle/role/sids/secret-id-accessor/destroy', root(), {
          secret_id_accessor: two.secret_id_accessor,
        })
      ).status,
    ).toBe(204);
    const roleId = (await call('GET', 'auth/approle/role/sids/role-id', root())).body.data.role_id;
    for (const sid of [one, two])
      expect(
        (
          await call('POST', 'auth/approle/login', undefined, {
            role_id: roleId,
            secret_id: sid.secret_id,
          })
        ).body,
      ).toEqual({ errors: ['invalid role or secret ID'] });
    const gone = await call('POST', 'auth/approle/role/sids/secret-id-accessor/lookup', root(), {
      secret_id_accessor: two.secret_id_accessor,
    });
    expect(gone.status).toBe(404);
    expect((await call('GET', 'auth/approle/role/sids/secret-id?list=true', root())).status).toBe(
      404,
    );
  });
});

describe('sys/leases', () => {
  it('looks up a login lease and revokes every token of an auth path by prefix (sudo)', async () => {
    const a = await approleLogin(call, root(), 'svc', ['extra']);
    const b = await approleLogin(call, root(), 'svc', ['extra']);
    const created = (await call('POST', 'auth/token/create', root(), { policies: ['extra'] })).body
      .auth.client_token as string;
    const operator = await approleLogin(call, root(), 'operator', ['operator']);

    const leases = await call(
      'GET',
      'sys/leases/lookup/auth/approle/login/?list=true',
      operator.token,
    );
    expect(leases.body.data.keys.length).toBeGreaterThanOrEqual(3);
    const leaseId = `auth/approle/login/${leases.body.data.keys[0]}`;
    const lookup = await call('POST', 'sys/leases/lookup', a.token, { lease_id: leaseId });
    expect(lookup.body.data).toMatchObject({
      id: leaseId,
      renewable: true,
      ttl: expect.any(Number),
    });
    expect((await call('POST', 'sys/leases/lookup', a.token, { lease_id: 'nope' })).body).toEqual({
      errors: ['invalid lease'],
    });

    const creator = await approleLogin(call, root(), 'creator', ['creator']);
    expect(
      (await call('POST', 'sys/leases/revoke-prefix/auth/approle/login', creator.token)).status,
    ).toBe(403); // update without sudo
    expect((await call('POST', 'sys/leases/revoke-prefix/auth/approle/login', root())).status).toBe(
      204,
    );
    for (const t of [a.token, b.token, operator.token, creator.token])
      expectInvalid(await call('GET', 'auth/token/lookup-self', t));
    expect((await call('GET', 'auth/token/lookup-self', created)).status).toBe(200);
  });
});
