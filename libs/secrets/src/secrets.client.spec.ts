import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grantOf, secretDataPathOf, vaultPolicyFor, type ServiceName } from '@lpi/access-matrix';
import {
  startTokenReview,
  startVaultDev,
  waitFor,
  type TokenReviewStandIn,
  type VaultDevHandle,
} from '@lpi/testing';
import { SecretsClient, type TokenEvent } from './secrets.client';
import { readSecretsConfig } from './secrets.config';

jest.setTimeout(60_000);

const SERVICE: ServiceName = 'payment-service';
let vault: VaultDevHandle;
let review: TokenReviewStandIn;
let dir: string;
const clients: SecretsClient[] = [];

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Vault JSON bodies
type Json = Record<string, any>;
const asRoot = async (method: string, path: string, body?: unknown, wrapTtl?: string) => {
  const res = await fetch(`${vault.addr}/v1/${path}`, {
    method,
    headers: {
      'x-vault-token': vault.rootToken,
      ...(wrapTtl ? { 'x-vault-wrap-ttl': wrapTtl } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as Json;
};

/** The role is named after the service (the client checks that); its TTLs are set per test. */
const approleIdentity = async (
  tokenTtl: { token_ttl: string; token_max_ttl: string },
  role: string = SERVICE,
) => {
  await asRoot('POST', `auth/approle/role/${role}`, {
    token_policies: [role],
    secret_id_num_uses: 1,
    ...tokenTtl,
  });
  return {
    method: 'approle' as const,
    roleId: (await asRoot('GET', `auth/approle/role/${role}/role-id`)).data.role_id as string,
    wrappedSecretId: (await asRoot('POST', `auth/approle/role/${role}/secret-id`, {}, '60s'))
      .wrap_info.token as string,
  };
};
// renewal extends a 3 s token up to an hour / stops extending it at 4 s
const RENEWING = { token_ttl: '3s', token_max_ttl: '1h' };
const CAPPED = { token_ttl: '3s', token_max_ttl: '4s' };

const connect = async (
  identity: Parameters<typeof SecretsClient.connect>[0]['identity'],
  events: TokenEvent[] = [],
) => {
  const c = await SecretsClient.connect({
    vaultAddr: vault.addr,
    service: SERVICE,
    identity,
    onTokenEvent: (e) => events.push(e),
  });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  vault = await startVaultDev();
  dir = mkdtempSync(join(tmpdir(), 'secrets-spec-'));
  // a stand-in for the Kubernetes TokenReview API that vault-dev (like Vault) calls on login
  review = await startTokenReview({
    'sa-payment': 'system:serviceaccount:payments:payment-service',
    'sa-intruder': 'system:serviceaccount:payments:intruder',
  });

  await asRoot('POST', 'sys/auth/approle', { type: 'approle' });
  await asRoot('POST', 'sys/auth/kubernetes', { type: 'kubernetes' });
  await asRoot('POST', 'auth/kubernetes/config', {
    kubernetes_host: review.url,
  });
  await asRoot('PUT', `sys/policies/acl/${SERVICE}`, { policy: vaultPolicyFor(SERVICE) });
  const data = Object.fromEntries(grantOf(SERVICE).vault.secretFields.map((f) => [f, `${f}-v1`]));
  await asRoot('POST', secretDataPathOf(SERVICE), { data });
  await asRoot('POST', 'auth/kubernetes/role/capped', {
    bound_service_account_names: [SERVICE],
    bound_service_account_namespaces: ['payments'],
    token_policies: [SERVICE],
    token_ttl: '3s',
    token_max_ttl: '4s',
  });
});

afterAll(async () => {
  clients.forEach((c) => c.close());
  await review?.stop();
  await vault?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('token lifetime', () => {
  it('renews the token before it expires and keeps reading', async () => {
    const events: TokenEvent[] = [];
    const c = await connect(await approleIdentity(RENEWING), events);
    await waitFor('two renewals', async () =>
      events.filter((e) => e.kind === 'renewed').length >= 2 ? true : undefined,
    );
    expect(events.map((e) => e.kind)).not.toContain('renewal-failed');
    expect((await c.readServiceSecret()).data.client_id).toBe('client_id-v1');
    // what /metrics shows: the renewed token's life left (3 s TTL), the version in use
    const figures = c.sessionFigures();
    expect(figures.tokenTtlSeconds).toBeGreaterThan(0);
    expect(figures.tokenTtlSeconds).toBeLessThanOrEqual(3);
    expect(figures.secretVersion).toBe(1);
    c.close();
    expect(c.sessionFigures().tokenTtlSeconds).toBe(0);
  });

  it('logs in again (Kubernetes auth) when renewal stops extending the token', async () => {
    const jwtFile = join(dir, 'sa-token');
    writeFileSync(jwtFile, 'sa-payment\n', { mode: 0o600 });
    const events: TokenEvent[] = [];
    const before = review.calls();
    const c = await connect({ method: 'kubernetes', role: 'capped', jwtFile }, events);
    await waitFor('a second login', async () =>
      events.some((e) => e.kind === 'relogin') ? true : undefined,
    );
    expect(review.calls() - before).toBeGreaterThanOrEqual(2); // every login is a TokenReview
    expect((await c.readServiceSecret()).data.client_id).toBe('client_id-v1');
  });

  it('says so when an AppRole token reaches its max TTL (the secret-id was single use)', async () => {
    const events: TokenEvent[] = [];
    await connect(await approleIdentity(CAPPED), events);
    await waitFor('the max TTL', async () =>
      events.some((e) => e.kind === 'max-ttl-reached') ? true : undefined,
    );
    expect(events.map((e) => e.kind)).not.toContain('relogin');
  });
});

describe('refused identities fail start-up with VAULT_LOGIN_DENIED', () => {
  it('an AppRole secret-id presented with another role-id', async () => {
    const identity = await approleIdentity(RENEWING);
    const other = await approleIdentity(RENEWING, 'refund-service');
    const err = (await connect({ ...identity, roleId: other.roleId }).catch((e: unknown) => e)) as {
      code: string;
      message: string;
    };
    expect(err.code).toBe('VAULT_LOGIN_DENIED');
    expect(err.message).toMatch(/invalid role or secret ID/);
    expect(err.message).not.toContain(identity.wrappedSecretId);
  });

  it('a service account the role is not bound to, and a forged one', async () => {
    for (const jwt of ['sa-intruder', 'forged']) {
      const jwtFile = join(dir, `jwt-${jwt}`);
      writeFileSync(jwtFile, jwt, { mode: 0o600 });
      await expect(
        connect({ method: 'kubernetes', role: 'capped', jwtFile }),
      ).rejects.toMatchObject({ code: 'VAULT_LOGIN_DENIED' });
    }
  });

  it('an unknown token', async () => {
    const err = (await connect({ method: 'token', token: 'hvs.unknown-token' }).catch(
      (e: unknown) => e,
    )) as { code: string; message: string };
    expect(err.code).toBe('VAULT_LOGIN_DENIED');
    expect(err.message).not.toContain('hvs.unknown-token');
  });
});

describe('readSecretsConfig', () => {
  it('names the missing or unreadable setting', () => {
    expect(() => readSecretsConfig(SERVICE, {})).toThrow(/VAULT_ADDR/);
    expect(() => readSecretsConfig(SERVICE, { VAULT_ADDR: vault.addr })).toThrow(
      /VAULT_ROLE_ID_FILE/,
    );
    expect(() =>
      readSecretsConfig(SERVICE, {
        VAULT_ADDR: vault.addr,
        VAULT_ROLE_ID_FILE: join(dir, 'absent'),
        VAULT_WRAPPED_SECRET_ID_FILE: join(dir, 'absent'),
      }),
    ).toThrow(/VAULT_ROLE_ID_FILE points at a file that cannot be read/);
    expect(() =>
      readSecretsConfig(SERVICE, { VAULT_ADDR: vault.addr, VAULT_AUTH_METHOD: 'token' }),
    ).toThrow(/VAULT_TOKEN/);
    expect(() =>
      readSecretsConfig(SERVICE, { VAULT_ADDR: vault.addr, VAULT_AUTH_METHOD: 'ldap' }),
    ).toThrow(/VAULT_AUTH_METHOD/);
  });

  it('reads the role-id and wrapped secret-id from files, and connects with them', async () => {
    const identity = await approleIdentity(RENEWING);
    writeFileSync(join(dir, 'role-id'), identity.roleId, { mode: 0o600 });
    writeFileSync(join(dir, 'wrapped-secret-id'), `${identity.wrappedSecretId}\n`, {
      mode: 0o600,
    });
    const options = readSecretsConfig(SERVICE, {
      VAULT_ADDR: vault.addr,
      VAULT_ROLE_ID_FILE: join(dir, 'role-id'),
      VAULT_WRAPPED_SECRET_ID_FILE: join(dir, 'wrapped-secret-id'),
      VAULT_SECRET_POLL_MS: '250',
    });
    expect(options).toMatchObject({ service: SERVICE, pollIntervalMs: 250, identity });
    const c = await SecretsClient.connect(options);
    clients.push(c);
    expect(c.current().version).toBeGreaterThanOrEqual(1);
  });
});
