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
import { SecretsError } from './errors';
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
