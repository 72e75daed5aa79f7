// The platform the pods expect, as containers on one Docker network under the overlay's DNS
// names: Vault (vault-dev over TLS with a certificate for vault.vault.svc from a test CA), a
// TokenReview stand-in (a host server on the network's gateway), and the run-time PKI.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LABEL } from './docker-run';
import { run } from '../compose/sh';

export const VAULT_HOST = 'vault.vault.svc';

/** A private CA and Vault's server certificate (P-256, PKCS#8 key), made with openssl. */
export function vaultPki(dir: string): { caCert: string; certFile: string; keyFile: string } {
  const f = (name: string) => join(dir, name);
  const q = { capture: true, quiet: true };
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'),
    '-subj', '/CN=lpi pods test Vault CA', '-days', '2'], q); // prettier-ignore
  run('openssl', ['req', ...ec, '-keyout', f('vault.key'), '-out', f('vault.csr'),
    '-subj', `/CN=${VAULT_HOST}`], q); // prettier-ignore
  writeFileSync(
    f('ext.cnf'),
    `subjectAltName=DNS:${VAULT_HOST},IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`,
  );
  run('openssl', ['x509', '-req', '-in', f('vault.csr'), '-CA', f('ca.pem'), '-CAkey',
    f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('vault.crt')], q); // prettier-ignore
  return {
    caCert: readFileSync(f('ca.pem'), 'utf8'),
    certFile: f('vault.crt'),
    keyFile: f('vault.key'),
  };
}

/**
 * The Kubernetes API's TokenReview, as Vault's Kubernetes auth calls it (the logic of
 * libs/testing token-review.ts, reachable from the Docker network): a projected token's
 * content -> `system:serviceaccount:<namespace>:<name>`; anything else is unauthenticated.
 */
export class TokenReviewStandIn {
  readonly users = new Map<string, string>();
  calls = 0;
  private server?: Server;
  url = '';

  async start(host: string): Promise<void> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        this.calls += 1;
        let token = '';
        try {
          token = (JSON.parse(body) as { spec?: { token?: string } }).spec?.token ?? '';
        } catch {
          token = '';
        }
        const username = this.users.get(token);
        res.setHeader('content-type', 'application/json');
        res.end(
          JSON.stringify({
            status: username
              ? { authenticated: true, user: { username } }
              : { authenticated: false },
          }),
        );
      });
    });
    await new Promise<void>((r) => this.server!.listen(0, host, r));
    this.url = `http://${host}:${(this.server.address() as { port: number }).port}`;
  }

  /** A fresh token for a ServiceAccount, as the kubelet would project it. */
  issue(namespace: string, serviceAccount: string): string {
    const token = randomBytes(32).toString('base64url');
    this.users.set(token, `system:serviceaccount:${namespace}:${serviceAccount}`);
    return token;
  }

  stop(): Promise<void> {
    return new Promise((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}

export const docker = (args: string[], capture = true) =>
  run('docker', args, { capture, quiet: capture }).stdout.trim();

export function createNetwork(name: string): string {
  docker(['network', 'create', '--label', LABEL, name]);
  return docker(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', name]);
}

/** 127.0.0.1:<port> Docker published for a container port. */
export const publishedPort = (container: string, port: number): number =>
  Number(/:(\d+)\s*$/m.exec(docker(['port', container, `${port}/tcp`]))?.[1]);

export const containerIp = (container: string, network: string): string =>
  docker([
    'inspect',
    '-f',
    `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`,
    container,
  ]);

/** vault-dev over TLS under the overlay's name, run like the services (uid, read-only, no caps). */
export function startVault(o: {
  network: string;
  name: string;
  pkiDir: string;
  certFile: string;
  keyFile: string;
  rootToken: string;
}) {
  const envFile = join(o.pkiDir, 'vault.env');
  writeFileSync(
    envFile,
    [
      'VAULT_DEV_HOST=0.0.0.0',
      'VAULT_DEV_PORT=8200',
      `VAULT_DEV_ROOT_TOKEN=${o.rootToken}`,
      `VAULT_DEV_TLS_CERT_FILE=/pki/${o.certFile.split('/').pop()}`,
      `VAULT_DEV_TLS_KEY_FILE=/pki/${o.keyFile.split('/').pop()}`,
      // the identity tokens' issuer is the address the services use
      `VAULT_DEV_API_ADDR=https://${VAULT_HOST}:8200`,
    ].join('\n'),
    { mode: 0o600 },
  );
  // only the certificate and key, readable by vault-dev's user alone (the CA key stays out)
  const tlsDir = join(o.pkiDir, 'vault-tls');
  mkdirSync(tlsDir, { mode: 0o755 });
  chmodSync(tlsDir, 0o755);
  for (const [file, mode] of [
    [o.certFile, 0o644],
    [o.keyFile, 0o600],
  ] as const) {
    const target = join(tlsDir, basename(file));
    copyFileSync(file, target);
    chownSync(target, 10001, 10001);
    chmodSync(target, mode);
  }
  docker(['run', '-d', '--name', o.name, '--label', LABEL, '--network', o.network,
    '--network-alias', VAULT_HOST, '-p', '127.0.0.1::8200', '--user', '10001:10001',
    '--read-only', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges',
    '--tmpfs', '/tmp', '-v', `${tlsDir}:/pki:ro`, '--env-file', envFile, 'lpi/vault-dev:local']); // prettier-ignore
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  onTimeout?: () => void,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      onTimeout?.();
      throw new Error(`not in time: ${what}`);
    }
    await sleep(1000);
  }
}

/** Removes every container and network this test labelled; says what could not be removed. */
export function removeAll(): string[] {
  const ids = (kind: string[]) =>
    run('docker', [...kind, '-q', '--filter', `label=${LABEL}`], {
      capture: true,
      quiet: true,
      allowFail: true,
    })
      .stdout.split('\n')
      .filter(Boolean);
  const containers = ids(['ps', '-a']);
  if (containers.length)
    run('docker', ['rm', '-f', '-v', ...containers], {
      capture: true,
      quiet: true,
      allowFail: true,
    });
  const networks = ids(['network', 'ls']);
  if (networks.length)
    run('docker', ['network', 'rm', ...networks], { capture: true, quiet: true, allowFail: true });
  return [
    ...ids(['ps', '-a']).map((c) => `container ${c}`),
    ...ids(['network', 'ls']).map((n) => `network ${n}`),
  ];
}
