// The Kubernetes-auth setup as the cluster Job runs it, against vault-dev and a TokenReview
// stand-in: each service's projected ServiceAccount token logs in to its own role and reads
// its own secret only; a second run changes nothing.
import { SERVICE_NAMES, secretDataPathOf } from '@lpi/access-matrix';
import {
  startTokenReview,
  startVaultDev,
  type TokenReviewStandIn,
  type VaultDevHandle,
} from '@lpi/testing';
import { configureKubernetesAuth, type KubernetesAuthOptions } from './vault-kubernetes';

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
