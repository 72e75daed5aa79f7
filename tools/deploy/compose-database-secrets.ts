/**
 * One-shot for docker compose: generates the database owner's password and the password of
 * `lpi_vault_admin` (the role Vault's database engine logs in as) into two volumes at run
 * time, so neither sits in the repo or an image. Idempotent: PostgreSQL keeps the password it
 * was initialised with, so a restarted stack must keep it too.
 * Usage: node -r @swc-node/register tools/deploy/compose-database-secrets.ts <owner dir> <vault-admin dir>
 * The owner's file is world-readable inside its volume: PostgreSQL reads it as its own user
 * (999, the official image's) and the migration as 10001; only those two mount the volume.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const PASSWORD_FILE = 'password';

function writeOnce(dir: string, mode: number) {
  const file = join(dir, PASSWORD_FILE);
  if (existsSync(file)) return;
  writeFileSync(file, randomBytes(32).toString('base64url'), { mode });
}

function main(ownerDir: string | undefined, vaultAdminDir: string | undefined) {
  if (!ownerDir || !vaultAdminDir)
    throw new Error('compose-database-secrets: pass the owner and vault-admin directories');
  writeOnce(ownerDir, 0o444);
  writeOnce(vaultAdminDir, 0o400);
}

try {
  main(process.argv[2], process.argv[3]);
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
