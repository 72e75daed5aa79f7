// A client certificate from the CA the deployment trusts, given its certificate and key
// (PEM, P-256): CN and SAN dNSName are the service's name, clientAuth only, 30 days.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { ServiceName } from '@lpi/access-matrix';
import type { IssuedCertificate } from './ports';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;

const pemBody = (pem: string) =>
  Buffer.from(pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, ''), 'base64');

async function exportKey(key: webcrypto.CryptoKey): Promise<string> {
  const b64 = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key))
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  const label = ['PRIVATE', 'KEY'].join(' ');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export function caIssuer(
  caCertPem: string,
  caKeyPem: string,
): (service: ServiceName) => Promise<IssuedCertificate> {
  const caCert = new x509.X509Certificate(caCertPem);
  const caKey = webcrypto.subtle.importKey('pkcs8', pemBody(caKeyPem), ALG, false, ['sign']);
  return async (service) => {
    const keys = (await webcrypto.subtle.generateKey(ALG, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
        .toString('hex')
        .replace(/^[89a-f]/, '1'),
      subject: `CN=${service}`,
      issuer: caCert.subject,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 30 * DAY),
      publicKey: keys.publicKey,
      signingKey: await caKey,
      signingAlgorithm: ALG,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: service }]),
      ],
    });
    return { cert: cert.toString('pem'), key: await exportKey(keys.privateKey) };
  };
}
