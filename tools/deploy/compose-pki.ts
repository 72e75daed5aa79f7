/**
 * One-shot for docker compose: generates the dev PKI, the sandbox admin token and the Vault
 * dev root token into a volume at run time, so no key or token ever sits in the repo or an image.
 * Usage: node -r @swc-node/register tools/deploy/compose-pki.ts <dir> [<trust dir>]
 * The trust directory (default `<dir>/trust`) receives the CA certificate alone: services
 * mount only that.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAMES } from '@lpi/access-matrix';
import { createDevPki, writeDevPki } from '@lpi/testing';

async function main(dir: string | undefined, trustDir = dir && join(dir, 'trust')): Promise<void> {
  if (!dir || !trustDir)
    throw new Error('compose-pki: pass the output directory as the first argument');
  // Idempotent: a restarted stack keeps the identities Vault and the sandbox already hold.
  if (existsSync(join(dir, 'ca.crt'))) return;
  const pki = await createDevPki(SERVICE_NAMES);
  writeDevPki(pki, dir);
  mkdirSync(trustDir, { recursive: true });
  writeFileSync(join(trustDir, 'ca.crt'), pki.caCert);
  const token = () => randomBytes(32).toString('base64url');
  writeFileSync(join(dir, 'sandbox-admin-token'), token(), { mode: 0o600 });
  writeFileSync(join(dir, 'vault-root-token'), token(), { mode: 0o600 });
}

main(process.argv[2], process.argv[3]).catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
