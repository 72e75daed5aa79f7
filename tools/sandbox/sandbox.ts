// `npm run sandbox`: the provider sandbox alone, with a fresh dev PKI, until Ctrl-C.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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
  const files = writeDevPki(pki, dir);
  console.log('==> starting the provider sandbox');
  const sb = await startSandbox({
    pki,
    tokenTtlSeconds: Number(process.env.SANDBOX_TOKEN_TTL_SECONDS ?? 900),
  });
  // the admin token goes to an owner-only file, never to the terminal (scrollback, CI logs)
  const adminTokenFile = join(dir, 'admin-token');
  writeFileSync(adminTokenFile, sb.adminToken, { mode: 0o600 });
  console.log(`
provider sandbox is running (Ctrl-C stops it and deletes ${dir})
  issuer          : ${sb.issuer}
  token endpoint  : ${sb.tokenEndpoint}
  JWKS            : ${sb.jwksUri}
  payments API    : ${sb.apiBaseUrl}/v1   (audience ${sb.audience})
  admin API       : ${sb.apiBaseUrl}/admin
  admin token     : ${adminTokenFile}
  CA certificate  : ${files['ca.crt']}
  client certs    : ${dir}/<service>.crt and .key

register a client:
  curl --cacert ${files['ca.crt']} -X PUT ${sb.apiBaseUrl}/admin/clients/payment-service \\
    -H "authorization: Bearer $(cat ${adminTokenFile})" -H 'content-type: application/json' \\
    -d '{"scopes":["payments:write","payments:read"],"token_endpoint_auth_method":"client_secret_basic"}'
`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void sb.stop().finally(() => {
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
