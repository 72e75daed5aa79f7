import { readFileSync } from 'node:fs';
import { issuedSecretsRecorder, runMain } from '@lpi/service-bootstrap';
import { readVaultDevConfig } from './vault-dev.config';
import { VaultDev } from './vault-dev.server';

runMain('vault-dev', async () => {
  const config = readVaultDevConfig();
  const tls =
    config.VAULT_DEV_TLS_CERT_FILE && config.VAULT_DEV_TLS_KEY_FILE
      ? {
          cert: readFileSync(config.VAULT_DEV_TLS_CERT_FILE, 'utf8'),
          key: readFileSync(config.VAULT_DEV_TLS_KEY_FILE, 'utf8'),
        }
      : undefined;
  const vault = new VaultDev({
    rootToken: config.VAULT_DEV_ROOT_TOKEN,
    onIssued: issuedSecretsRecorder(config.VAULT_DEV_ISSUED_SECRETS_FILE),
    apiAddr: config.VAULT_DEV_API_ADDR,
    maxRequestBytes: config.VAULT_DEV_MAX_REQUEST_SIZE,
  });
  const server = await vault.listen(config.VAULT_DEV_PORT, config.VAULT_DEV_HOST, tls);
  const addr = `${tls ? 'https' : 'http'}://${config.VAULT_DEV_HOST}:${config.VAULT_DEV_PORT}`;
  process.stdout.write(
    [
      '',
      '  !!! vault-dev is NOT HashiCorp Vault. It is an in-memory stand-in for tests and the local',
      "  !!! demo that speaks the parts of Vault's HTTP API this project uses. Never use it in production.",
      '',
      `  VAULT_ADDR=${addr}`,
      config.VAULT_DEV_PRINT_ROOT_TOKEN
        ? `  root token: ${vault.rootToken}`
        : '  root token: set VAULT_DEV_ROOT_TOKEN, or VAULT_DEV_PRINT_ROOT_TOKEN=true to print the generated one',
      '',
    ].join('\n') + '\n',
  );
  const stop = () =>
    server.close(() => {
      void vault.close().finally(() => process.exit(0));
    });
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
});
