import 'reflect-metadata';
import { exportJWK, generateKeyPair } from 'jose';
import { createLogger, issuedSecretsRecorder, runMain, startService } from '@lpi/service-bootstrap';
import { createAuthorizationServer } from './authorization-server';
import { ClientRegistry } from './client-registry';
import { MAX_BODY_BYTES, refuseDeepJson } from './edge-bounds';
import { FaultState } from './faults';
import { IdempotencyStore, Ledger, RateLimiter } from './ledger';
import { readSandboxConfig } from './sandbox.config';
import { SandboxModule } from './sandbox.module';
import { SandboxState } from './state';
import { TLS_POLICY } from './tls-policy';
import { WebhookDispatcher } from './webhooks';

runMain('provider-sandbox', async () => {
  const config = readSandboxConfig();
  const log = createLogger({ service: 'provider-sandbox', level: config.LOG_LEVEL });

  // a fresh signing key per run: nothing to commit, nothing to leak
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = `sandbox-es256-${Date.now()}`;
  const signingJwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };

  const onIssued = issuedSecretsRecorder(config.SANDBOX_ISSUED_SECRETS_FILE);
  const registry = new ClientRegistry(onIssued);
  const faults = new FaultState();
  const webhooks = new WebhookDispatcher(log, config.SANDBOX_WEBHOOK_RETRY_BASE_MS, onIssued);
  const state = new SandboxState(
    config,
    registry,
    new Ledger(),
    new IdempotencyStore(),
    new RateLimiter(config.SANDBOX_RATE_LIMIT_PER_MINUTE),
    webhooks,
    faults,
    publicJwk,
    log,
  );

  const { server: asServer } = createAuthorizationServer(config, registry, faults, signingJwk, log);
  await new Promise<void>((resolve, reject) => {
    asServer.once('error', reject);
    asServer.listen(config.SANDBOX_AS_PORT, config.SANDBOX_HOST, resolve);
  });

  const api = await startService({
    service: 'provider-sandbox',
    module: SandboxModule.create(state),
    port: config.SANDBOX_API_PORT,
    host: config.SANDBOX_HOST,
    httpsOptions: {
      cert: config.tls.cert,
      key: config.tls.key,
      ca: config.tls.ca,
      requestCert: true,
      rejectUnauthorized: false,
      ...TLS_POLICY,
    },
    bodyLimitBytes: MAX_BODY_BYTES,
    configure: (app) => {
      app.use(refuseDeepJson);
    },
  });

  const shutdown = () => {
    webhooks.close();
    asServer.close();
    void api.close().finally(() => process.exit(0));
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);

  if (config.adminTokenFromEnvironment)
    log.warn(
      'SANDBOX_ADMIN_TOKEN is deprecated: pass the admin token as a 0600 SANDBOX_ADMIN_TOKEN_FILE',
    );
  log.info(
    { issuer: config.issuer, apiBaseUrl: config.apiBaseUrl, audience: config.audience },
    'sandbox ready',
  );
});
