// The Kubernetes-auth setup as the cluster Job runs it, against vault-dev and a TokenReview
// stand-in: each service's projected ServiceAccount token logs in to its own role and reads
// its own secret only; a second run changes nothing. Given where PostgreSQL is, it also sets
// up Vault's database engine, whose logins each service reads for itself alone.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_NAMES, databaseCredsPathOf, secretDataPathOf } from '@lpi/access-matrix';
import { prepareDatabase } from '@lpi/database';
import {
  startPostgresServer,
  startTokenReview,
  startVaultDev,
  type PostgresServer,
  type TokenReviewStandIn,
  type VaultDevHandle,
} from '@lpi/testing';
import { configureKubernetesAuth, type KubernetesAuthOptions } from './vault-kubernetes';
import { readKubernetesAuthConfig } from './vault-kubernetes.config';

let vault: VaultDevHandle;
let review: TokenReviewStandIn;
let options: KubernetesAuthOptions;
const NAMESPACE = 'lpi';

const call = async (method: string, path: string, token: string, body?: unknown) => {
  const res = await fetch(`${vault.addr}/v1/${path}`, {
    method,
    headers: { 'x-vault-token': token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
};
const login = (jwt: string, role: string) =>
  call('POST', 'auth/kubernetes/login', '', { role, jwt });

beforeAll(async () => {
  vault = await startVaultDev();
  review = await startTokenReview({
    ...Object.fromEntries(
      SERVICE_NAMES.map((s) => [`sa-${s}`, `system:serviceaccount:${NAMESPACE}:${s}`]),
    ),
    'sa-other-namespace': `system:serviceaccount:elsewhere:payment-service`,
  });
  await call('POST', 'sys/mounts/secret', vault.rootToken, {
    type: 'kv',
    options: { version: '2' },
  });
  for (const s of SERVICE_NAMES)
    await call('POST', secretDataPathOf(s), vault.rootToken, { data: { client_id: s } });
  options = {
    vaultAddr: vault.addr,
    vaultToken: vault.rootToken,
    kubernetesHost: review.url,
    namespace: NAMESPACE,
  };
});

afterAll(async () => {
  await review?.stop();
  await vault?.stop();
});

describe('Vault Kubernetes auth set up as code', () => {
  it('enables the method, writes its config, the policies and one role per service', async () => {
    const changes = await configureKubernetesAuth(options);
    expect(changes).toEqual(
      expect.arrayContaining([
        'enabled kubernetes auth at kubernetes/',
        'auth/kubernetes/config',
        ...SERVICE_NAMES.map((s) => `role ${s}`),
        ...SERVICE_NAMES.map((s) => `policy ${s}`),
      ]),
    );
    const role = await call('GET', 'auth/kubernetes/role/payment-service', vault.rootToken);
    expect(role.json.data).toMatchObject({
      bound_service_account_names: ['payment-service'],
      bound_service_account_namespaces: [NAMESPACE],
      audience: 'vault',
      token_policies: ['payment-service'],
    });
  });

  it('changes nothing on a second run', async () => {
    expect(await configureKubernetesAuth(options)).toEqual([]);
  });

  it.each(SERVICE_NAMES)(
    '%s logs in with its ServiceAccount token and reads its own secret only',
    async (service) => {
      const res = await login(`sa-${service}`, service);
      expect(res.status).toBe(200);
      const token = res.json.auth.client_token as string;
      expect((await call('GET', secretDataPathOf(service), token)).status).toBe(200);
      for (const other of SERVICE_NAMES.filter((s) => s !== service))
        expect((await call('GET', secretDataPathOf(other), token)).status).toBe(403);
    },
  );

  it("refuses another service's role, another namespace and an unknown token", async () => {
    expect((await login('sa-reporting-service', 'payment-service')).status).toBe(403);
    expect((await login('sa-other-namespace', 'payment-service')).status).toBe(403);
    expect((await login('forged', 'payment-service')).status).toBe(403);
  });
});

describe("the setup Job's database step: Vault's database engine, as the cluster runs it", () => {
  let postgres: PostgresServer;
  const adminPassword = randomBytes(18).toString('base64url');

  beforeAll(async () => {
    postgres = await startPostgresServer();
    await prepareDatabase(postgres.url(), { vaultAdminPassword: adminPassword });
  });
  afterAll(async () => {
    // leases first: their revocation drops the logins Vault created
    await call('PUT', 'sys/leases/revoke-prefix/database/creds', vault.rootToken);
    await postgres?.stop();
  });

  it('mounts the engine and one role per service; a service reads its own login only', async () => {
    const database = { address: `${postgres.host}:${postgres.port}`, adminPassword };
    const changes = await configureKubernetesAuth({ ...options, database });
    expect(changes).toEqual(
      expect.arrayContaining([
        'mounted database at database/',
        ...SERVICE_NAMES.map((s) => `database role ${s}`),
      ]),
    );
    const token = (await login('sa-refund-service', 'refund-service')).json.auth
      .client_token as string;
    const creds = await call('GET', databaseCredsPathOf('refund-service'), token);
    expect(creds.status).toBe(200);
    expect(creds.json.data.username).toEqual(expect.any(String));
    expect((await call('GET', databaseCredsPathOf('payment-service'), token)).status).toBe(403);
  });

  it('reads DATABASE_ADDRESS and the password file together, or neither', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lpi-vault-k8s-'));
    try {
      writeFileSync(join(dir, 'token'), 'operator-token');
      writeFileSync(join(dir, 'ca.crt'), 'ca');
      writeFileSync(join(dir, 'password'), `${adminPassword}\n`);
      const env = {
        VAULT_ADDR: 'https://vault.vault.svc:8200',
        VAULT_TOKEN_FILE: join(dir, 'token'),
        K8S_NAMESPACE: NAMESPACE,
        KUBERNETES_CA_FILE: join(dir, 'ca.crt'),
      };
      expect(readKubernetesAuthConfig(env).database).toBeUndefined();
      expect(
        readKubernetesAuthConfig({
          ...env,
          DATABASE_ADDRESS: 'postgres.lpi.svc:5432',
          DATABASE_VAULT_ADMIN_PASSWORD_FILE: join(dir, 'password'),
        }).database,
      ).toEqual({ address: 'postgres.lpi.svc:5432', adminPassword });
      expect(() =>
        readKubernetesAuthConfig({ ...env, DATABASE_ADDRESS: 'postgres.lpi.svc:5432' }),
      ).toThrow(/go together/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
