import { randomBytes } from 'node:crypto';
import { freePort } from './ports';
import { issuedSecretsEnv, recordIssued } from './run-logs';
import { startTsProcess } from './ts-process';

export interface VaultDevHandle {
  addr: string;
  rootToken: string;
  logs(): string;
  stop(): Promise<void>;
}

/** Spawns vault-dev (the Vault-API-compatible dev server) on a free port. */
export async function startVaultDev(options: { logFile?: string } = {}): Promise<VaultDevHandle> {
  const port = await freePort();
  const rootToken = `hvs.${randomBytes(18).toString('base64url')}`;
  recordIssued([rootToken]);
  const addr = `http://127.0.0.1:${port}`;
  const proc = await startTsProcess({
    name: 'vault-dev',
    entry: 'apps/vault-dev/src/main.ts',
    logFile: options.logFile,
    env: {
      VAULT_DEV_PORT: String(port),
      VAULT_DEV_ROOT_TOKEN: rootToken,
      ...issuedSecretsEnv('VAULT_DEV_ISSUED_SECRETS_FILE'),
    },
    ready: async () =>
      (await fetch(`${addr}/v1/sys/health`).catch(() => undefined))?.status === 200,
  });
  return { addr, rootToken, logs: () => proc.output(), stop: () => proc.stop() };
}
