import {
  createDevPki,
  httpsCall,
  startVaultDev,
  type DevPki,
  type VaultDevHandle,
} from '@lpi/testing';
import { readVaultDevConfig } from './vault-dev.config';

let pki: DevPki;
let vault: VaultDevHandle;

beforeAll(async () => {
  pki = await createDevPki();
  vault = await startVaultDev({ tls: { ...pki.server, ca: pki.caCert } });
});
afterAll(async () => {
  await vault?.stop();
});

describe('vault-dev over TLS', () => {
  it('serves the API over HTTPS with the given certificate, trusted through the private CA', async () => {
    expect(vault.addr).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const health = await httpsCall<{ sealed: boolean }>(`${vault.addr}/v1/sys/health`, {
      ca: pki.caCert,
    });
    expect(health.status).toBe(200);
    expect(health.json.sealed).toBe(false);
    const self = await httpsCall<{ data: { policies: string[] } }>(
      `${vault.addr}/v1/auth/token/lookup-self`,
      { ca: pki.caCert, headers: { 'x-vault-token': vault.rootToken } },
    );
    expect(self.json.data.policies).toEqual(['root']);
  });

  it('is refused by a client that does not trust the CA, and does not speak plain HTTP', async () => {
    const rogueCa = (await createDevPki()).caCert;
    await expect(httpsCall(`${vault.addr}/v1/sys/health`, { ca: rogueCa })).rejects.toThrow(
      /certificate/,
    );
    const plain = await fetch(vault.addr.replace('https:', 'http:') + '/v1/sys/health').catch(
      (err: unknown) => err,
    );
    expect(plain).toHaveProperty('message', 'fetch failed'); // the TLS listener drops it
  });

  it('uses its https address as the identity tokens issuer', async () => {
    const discovery = await httpsCall<{ issuer: string }>(
      `${vault.addr}/v1/identity/oidc/.well-known/openid-configuration`,
      { ca: pki.caCert },
    );
    expect(discovery.json.issuer).toBe(`${vault.addr}/v1/identity/oidc`);
  });

  it('takes the certificate and key files together or not at all', () => {
    expect(() => readVaultDevConfig({ VAULT_DEV_TLS_CERT_FILE: '/x/tls.crt' })).toThrow(
      /VAULT_DEV_TLS_KEY_FILE: is required when the other TLS file is set/,
    );
    expect(
      readVaultDevConfig({ VAULT_DEV_TLS_CERT_FILE: '/c', VAULT_DEV_TLS_KEY_FILE: '/k' }),
    ).toMatchObject({ VAULT_DEV_TLS_CERT_FILE: '/c', VAULT_DEV_TLS_KEY_FILE: '/k' });
  });
});
