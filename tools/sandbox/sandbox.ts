// `npm run sandbox`: the provider sandbox alone, with a fresh dev PKI, until Ctrl-C.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_NAMES } from '@lpi/access-matrix';
import { createDevPki, startSandbox, writeDevPki } from '@lpi/testing';

async function main() {
  console.log(
    '==> generating a throwaway PKI (CA, server certificate, one client certificate per service)',
  );
  const pki = await createDevPki(SERVICE_NAMES);
  const dir = mkdtempSync(join(tmpdir(), 'lpi-sandbox-pki-'));
  writeDevPki(pki, dir);
  console.log('==> starting the provider sandbox');
  const sb = await startSandbox({
    pki,
    tokenTtlSeconds: Number(process.env.SANDBOX_TOKEN_TTL_SECONDS ?? 900),
  });
  console.log(`
provider sandbox is running (Ctrl-C stops it)
  issuer / token endpoint : ${sb.issuer}  ${sb.tokenEndpoint}
  payments API            : ${sb.apiBaseUrl}/v1
  admin API               : ${sb.apiBaseUrl}/admin   (admin token: run with SANDBOX_PRINT_ADMIN_TOKEN=1 to print)
  CA and client certs     : ${dir}
`);
  if (process.env.SANDBOX_PRINT_ADMIN_TOKEN === '1')
    console.log(`  admin token             : ${sb.adminToken}`);
  const stop = () => void sb.stop().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
