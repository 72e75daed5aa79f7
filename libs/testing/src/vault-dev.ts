import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpsCall } from './https-client';
import { freePort } from './ports';
import { issuedSecretsEnv, recordIssued } from './run-logs';
import { startTsProcess } from './ts-process';

export interface VaultDevHandle {
  /** `http://127.0.0.1:<port>`, or `https://…` when started with `tls` */
  addr: string;
  rootToken: string;
  logs(): string;
  stop(): Promise<void>;
}

export interface VaultDevOptions {
  logFile?: string;
  /**
   * Serve HTTPS with this server certificate and key (e.g. `createDevPki().server`; its SANs
   * include 127.0.0.1). `ca`, when given, is the trust anchor for the readiness probe.
   */
  tls?: { cert: string; key: string; ca?: string };
}

/** Spawns vault-dev (the Vault-API-compatible dev server) on a free port. */
export async function startVaultDev(options: VaultDevOptions = {}): Promise<VaultDevHandle> {
  const port = await freePort();
  const rootToken = `hvs.${randomBytes(18).toString('base64url')}`;
  recordIssued([rootToken]);
  const { tls } = options;
  const addr = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const dir = tls ? mkdtempSync(join(tmpdir(), 'vault-dev-tls-')) : undefined;
  const tlsEnv: Record<string, string> = {};
  if (tls && dir) {
    writeFileSync(join(dir, 'tls.crt'), tls.cert, { mode: 0o644 });
    writeFileSync(join(dir, 'tls.key'), tls.key, { mode: 0o600 });
    tlsEnv.VAULT_DEV_TLS_CERT_FILE = join(dir, 'tls.crt');
    tlsEnv.VAULT_DEV_TLS_KEY_FILE = join(dir, 'tls.key');
  }
  const health = async () => {
    if (!tls) return (await fetch(`${addr}/v1/sys/health`).catch(() => undefined))?.status === 200;
    const res = await httpsCall(`${addr}/v1/sys/health`, {
      ca: tls.ca ?? tls.cert,
    }).catch((err: unknown) =>
      // without a CA the probe only needs the listener up: a certificate error means it is
      !tls.ca && err instanceof Error && /certificate|self.signed/i.test(err.message)
        ? { status: 200 }
        : undefined,
    );
    return res?.status === 200;
  };
  const proc = await startTsProcess({
    name: 'vault-dev',
    entry: 'apps/vault-dev/src/main.ts',
    logFile: options.logFile,
    env: {
      VAULT_DEV_PORT: String(port),
      VAULT_DEV_ROOT_TOKEN: rootToken,
      ...tlsEnv,
      ...issuedSecretsEnv('VAULT_DEV_ISSUED_SECRETS_FILE'),
    },
    ready: health,
  }).catch((err: unknown) => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    addr,
    rootToken,
    logs: () => proc.output(),
    stop: async () => {
      await proc.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
