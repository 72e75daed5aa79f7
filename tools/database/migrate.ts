// `npm run db:migrate`: the one-shot database step (schema migrations, then the grants the
// access matrix gives each service and Vault's admin role). Run as the database's owner:
//   DATABASE_URL=postgres://owner:...@host:5432/lpi [DATABASE_VAULT_ADMIN_PASSWORD_FILE=<file>]
import { readFileSync } from 'node:fs';
import { prepareDatabase } from '@lpi/database';

void (async () => {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('db:migrate: DATABASE_URL (the database owner) is required');
  const passwordFile = process.env.DATABASE_VAULT_ADMIN_PASSWORD_FILE;
  await prepareDatabase(url, {
    vaultAdminPassword: passwordFile ? readFileSync(passwordFile, 'utf8').trim() : undefined,
    log: (line) => console.log(line),
  });
  console.log('db:migrate: done');
})().catch((err: unknown) => {
  // pg's messages name objects, never the connection string's password
  console.error(`db:migrate: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
