import 'reflect-metadata';
import { X509Certificate, createPrivateKey, webcrypto } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { caIssuer } from './certificates';
import { main } from './incident';
import { readIncidentConfig, readPrivateFile } from './incident.config';
import { tokenBelongsTo } from './vault.steps';

describe('incident runbook: which Vault tokens are the service', () => {
  it("takes an AppRole login's token by its policy or role_name, and a Kubernetes login's by role", () => {
    const approle = {
      policies: ['default', 'reporting-service'],
      meta: { role_name: 'reporting-service' },
    };
    expect(tokenBelongsTo('reporting-service', approle)).toBe(true);
    expect(
      tokenBelongsTo('reporting-service', {
        policies: ['default'],
        meta: { role_name: 'reporting-service' },
      }),
    ).toBe(true);
    expect(
      tokenBelongsTo('reporting-service', {
        policies: ['default'],
        meta: { role: 'reporting-service' },
        path: 'auth/kubernetes/login',
      }),
    ).toBe(true);
  });

  it("never takes another service's, an operator's or a root token", () => {
    expect(
      tokenBelongsTo('reporting-service', {
        policies: ['default', 'payment-service'],
        meta: { role_name: 'payment-service' },
      }),
    ).toBe(false);
    expect(
      tokenBelongsTo('reporting-service', {
        policies: ['root'],
        meta: { role_name: 'reporting-service' },
      }),
    ).toBe(false);
    expect(tokenBelongsTo('reporting-service', { policies: ['default', 'ops'], meta: {} })).toBe(
      false,
    );
    // a role name in metadata from another auth method than Kubernetes is not enough
    expect(
      tokenBelongsTo('reporting-service', {
        policies: ['default'],
        meta: { role: 'reporting-service' },
        path: 'auth/userpass/login/x',
      }),
    ).toBe(false);
  });
});

describe('incident runbook: configuration', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lpi-incident-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a credential file only when group and others cannot', () => {
    const file = join(dir, 'token');
    writeFileSync(file, 'value\n', { mode: 0o644 });
    chmodSync(file, 0o644);
    expect(() => readPrivateFile('INCIDENT_VAULT_TOKEN_FILE', file)).toThrow(/chmod 600/);
    chmodSync(file, 0o600);
    expect(readPrivateFile('INCIDENT_VAULT_TOKEN_FILE', file)).toBe('value');
  });

  it('names every missing setting and never echoes a value', () => {
    let message = '';
    try {
      readIncidentConfig({ VAULT_ADDR: 'not a url with-a-secret-looking-value' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/VAULT_ADDR: must be an absolute URL/);
    expect(message).toMatch(/INCIDENT_VAULT_TOKEN_FILE: is required/);
    expect(message).toMatch(/INCIDENT_CA_KEY_FILE: is required/);
    expect(message).not.toContain('secret-looking');
  });

  it('refuses a service the access matrix does not know, with a stable code', async () => {
    await expect(main(['ledger-servic'])).rejects.toMatchObject({ code: 'unknown_service' });
  });
});

describe('incident runbook: a new client certificate from the deployment CA', () => {
  it('issues CN=<service>, clientAuth, signed by the given CA, with a fresh key', async () => {
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
    const keys = (await webcrypto.subtle.generateKey(alg, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const ca = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: '01',
      name: 'CN=test CA',
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 86_400_000),
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.BasicConstraintsExtension(true, 0, true)],
    });
    const pkcs8 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString(
      'base64',
    );
    const label = ['PRIVATE', 'KEY'].join(' ');
    const issue = caIssuer(
      ca.toString('pem'),
      `-----BEGIN ${label}-----\n${pkcs8}\n-----END ${label}-----\n`,
    );
    const a = await issue('reporting-service');
    const b = await issue('reporting-service');
    const cert = new X509Certificate(a.cert);
    expect(cert.subject).toBe('CN=reporting-service');
    expect(cert.checkIssued(new X509Certificate(ca.toString('pem')))).toBe(true);
    expect(cert.verify(new X509Certificate(ca.toString('pem')).publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(a.key))).toBe(true);
    expect(a.key).not.toBe(b.key);
  });
});
