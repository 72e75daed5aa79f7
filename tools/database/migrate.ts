// `npm run db:migrate`: the one-shot database step (schema migrations, then the grants the
// access matrix gives each service and Vault's admin role). Run as the database's owner:
//   DATABASE_URL=postgres://owner[:...]@host:5432/lpi [DATABASE_OWNER_PASSWORD_FILE=<file>]
//   [DATABASE_VAULT_ADMIN_PASSWORD_FILE=<file>]
// Deployments give the owner's password as a file (a volume or a Secret), so that it shows in
// no environment and no `kubectl describe`: it then takes the place of the URL's password.
import { readFileSync } from 'node:fs';
import { prepareDatabase } from '@lpi/database';

/** The variables it reads (tools/deploy/settings.spec.ts holds the deployments to them). */
export const MIGRATE_SETTING_NAMES: readonly string[] = [
  'DATABASE_URL',
  'DATABASE_OWNER_PASSWORD_FILE',
  'DATABASE_VAULT_ADMIN_PASSWORD_FILE',
];

const fileContent = (path: string | undefined) =>
  path ? readFileSync(path, 'utf8').trim() : undefined;

async function main() {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('db:migrate: DATABASE_URL (the database owner) is required');
  const ownerUrl = new URL(url);
  const ownerPassword = fileContent(process.env.DATABASE_OWNER_PASSWORD_FILE);
  if (ownerPassword !== undefined) ownerUrl.password = encodeURIComponent(ownerPassword);
  await prepareDatabase(ownerUrl.toString(), {
    vaultAdminPassword: fileContent(process.env.DATABASE_VAULT_ADMIN_PASSWORD_FILE),
    log: (line) => console.log(line),
  });
  console.log('db:migrate: done');
}

if (require.main === module)
  main().catch((err: unknown) => {
    // pg's messages name objects, never the connection string's password
    console.error(`db:migrate: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
