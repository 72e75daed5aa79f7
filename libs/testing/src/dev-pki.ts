import 'reflect-metadata';
import { X509Certificate as NodeX509, createHash, webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';

type CryptoKey = webcrypto.CryptoKey;
type CryptoKeyPair = webcrypto.CryptoKeyPair;

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 24 * 60 * 60 * 1000;

export interface PemPair {
  /** PEM certificate. */
  cert: string;
  /** PEM PKCS#8 private key. Never log it, never commit it. */
  key: string;
  /** base64url SHA-256 of the certificate's DER: the RFC 8705 `x5t#S256` value. */
  thumbprint: string;
}

export interface DevPki {
  caCert: string;
  server: PemPair;
  /** One client certificate per name (CN = the name, SAN dNSName = the name). */
  clients: Record<string, PemPair>;
  /** A client certificate from a CA nobody trusts, for negative tests. */
  rogue: PemPair;
  issueClient(name: string): Promise<PemPair>;
}

export function x5tS256(certPem: string): string {
  const der = new NodeX509(certPem).raw;
  return createHash('sha256').update(der).digest('base64url');
}

async function exportKey(key: CryptoKey): Promise<string> {
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', key);
  const b64 = Buffer.from(pkcs8)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  // the PEM label is assembled so that no key-looking literal sits in the repository
  const label = ['PRIVATE', 'KEY'].join(' ');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

async function selfSignedCa(name: string) {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: `CN=${name}`,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    keys,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  return { cert, keys };
}

function randomSerial(): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(16)))
    .toString('hex')
    .replace(/^[89a-f]/, '1');
}

async function issue(
  ca: { cert: x509.X509Certificate; keys: CryptoKeyPair },
  name: string,
  usage: 'server' | 'client',
  sans: { type: 'dns' | 'ip'; value: string }[],
): Promise<PemPair> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: `CN=${name}`,
    issuer: ca.cert.subject,
    notBefore: new Date(Date.now() - DAY),
    notAfter: new Date(Date.now() + 30 * DAY),
    publicKey: keys.publicKey,
    signingKey: ca.keys.privateKey,
    signingAlgorithm: ALG,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        [usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      new x509.SubjectAlternativeNameExtension(sans),
    ],
  });
  const pem = cert.toString('pem');
  return { cert: pem, key: await exportKey(keys.privateKey), thumbprint: x5tS256(pem) };
}

/**
 * A throwaway PKI for tests and the local demo: a CA, a localhost server certificate and
 * one client certificate per name. Generated in memory at run time; nothing is committed.
 */
export async function createDevPki(clientNames: readonly string[] = []): Promise<DevPki> {
  const ca = await selfSignedCa('lpi dev CA');
  const rogueCa = await selfSignedCa('untrusted CA');
  const server = await issue(ca, 'localhost', 'server', [
    { type: 'dns', value: 'localhost' },
    // the sandbox's name inside docker compose
    { type: 'dns', value: 'provider-sandbox' },
    { type: 'ip', value: '127.0.0.1' },
  ]);
  const issueClient = (name: string) => issue(ca, name, 'client', [{ type: 'dns', value: name }]);
  const clients: Record<string, PemPair> = {};
  for (const name of clientNames) clients[name] = await issueClient(name);
  return {
    caCert: ca.cert.toString('pem'),
    server,
    clients,
    rogue: await issue(rogueCa, clientNames[0] ?? 'rogue', 'client', [
      { type: 'dns', value: 'rogue' },
    ]),
    issueClient,
  };
}

/** Writes the PKI as files (0600 keys) for processes that take file paths. */
export function writeDevPki(pki: DevPki, dir: string): Record<string, string> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files: Record<string, string> = {};
  const put = (name: string, content: string, mode = 0o644) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode });
    files[name] = path;
  };
  put('ca.crt', pki.caCert);
  put('server.crt', pki.server.cert);
  put('server.key', pki.server.key, 0o600);
  for (const [name, pair] of Object.entries(pki.clients)) {
    put(`${name}.crt`, pair.cert);
    put(`${name}.key`, pair.key, 0o600);
  }
  return files;
}
