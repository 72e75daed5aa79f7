// Vault served over HTTPS by a private CA, as in Kubernetes (VAULT_CACERT): trusted when the
// service is given that CA, refused with a message that says it is a certificate problem
// when it is given another one or none.
import {
  createDevPki,
  freePort,
  startVaultDev,
  type DevPki,
  type VaultDevHandle,
} from '@lpi/testing';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grantOf } from '@lpi/access-matrix';
import { SecretsError } from './errors';
import { SecretsClient } from './secrets.client';
import { readSecretsConfig } from './secrets.config';
import { vaultCall } from './vault-http';

let pki: DevPki;
let vault: VaultDevHandle;

beforeAll(async () => {
  pki = await createDevPki();
  vault = await startVaultDev({ tls: { ...pki.server, ca: pki.caCert } });
});
afterAll(async () => {
  await vault?.stop();
});

describe('vaultCall over TLS', () => {
  it('trusts Vault through the CA it is given', async () => {
    const res = await vaultCall({ addr: vault.addr, ca: pki.caCert }, 'GET', 'sys/health');
    expect(res.status).toBe(200);
  });

  it.each([
    ['another CA', async () => (await createDevPki()).caCert],
    ['no CA (the system roots)', async () => undefined],
  ])('names the certificate problem and VAULT_CACERT with %s', async (_, ca) => {
    const err = await vaultCall({ addr: vault.addr, ca: await ca() }, 'GET', 'sys/health').catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SecretsError);
    expect((err as SecretsError).code).toBe('VAULT_TLS_UNTRUSTED');
    expect((err as Error).message).toMatch(/TLS certificate .* not trust.*VAULT_CACERT/);
  });

  it('keeps the real cause when nothing answers', async () => {
    const err = await vaultCall(`http://127.0.0.1:${await freePort()}`, 'GET', 'sys/health').catch(
      (e: unknown) => e,
    );
    expect((err as SecretsError).code).toBe('VAULT_UNREACHABLE');
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });
});

describe('a service configured only by VAULT_ADDR and VAULT_CACERT', () => {
  let dir: string;
  let token: string;
  const env = (ca: string) => {
    const file = join(dir, `ca-${Math.random().toString(36).slice(2)}.pem`);
    writeFileSync(file, ca);
    return {
      VAULT_ADDR: vault.addr,
      VAULT_CACERT: file,
      VAULT_AUTH_METHOD: 'token',
      VAULT_TOKEN: token,
    };
  };
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vault-cacert-'));
    const root = { addr: vault.addr, ca: pki.caCert };
    await vaultCall(root, 'POST', 'sys/mounts/secret', {
      token: vault.rootToken,
      body: { type: 'kv', options: { version: '2' } },
    });
    await vaultCall(root, 'PUT', 'sys/policies/acl/payment-service', {
      token: vault.rootToken,
      body: { policy: 'path "secret/data/payment-service" { capabilities = ["read"] }' },
    });
    await vaultCall(root, 'POST', 'secret/data/payment-service', {
      token: vault.rootToken,
      body: {
        data: Object.fromEntries(
          grantOf('payment-service').vault.secretFields.map((f) => [
            f,
            f === 'client_id' ? 'payment-service' : `${f}-v1`,
          ]),
        ),
      },
    });
    const created = await vaultCall(root, 'POST', 'auth/token/create', {
      token: vault.rootToken,
      body: { policies: ['payment-service'], ttl: '10m' },
    });
    token = (created.body.auth as { client_token: string }).client_token;
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('logs in and reads its secret over HTTPS through the private CA', async () => {
    const client = await SecretsClient.connect(
      readSecretsConfig('payment-service', env(pki.caCert)),
    );
    try {
      expect(client.current().data.client_id).toBe('payment-service');
    } finally {
      client.close();
    }
  });

  it('with the wrong CA, fails start-up saying it is a certificate problem', async () => {
    const wrong = (await createDevPki()).caCert;
    await expect(
      SecretsClient.connect(readSecretsConfig('payment-service', env(wrong))),
    ).rejects.toThrow(/VAULT_TLS_UNTRUSTED: .*TLS certificate.*VAULT_CACERT/);
  });
});
