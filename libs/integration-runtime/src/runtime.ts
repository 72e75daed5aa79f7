import { type DynamicModule, type Type } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { grantOf, type ServiceName } from '@lpi/access-matrix';
import {
  CallerAuthModule,
  CredentialSet,
  ProviderClient,
  TokenManager,
  readCallerAuthConfig,
  type ClientCredential,
} from '@lpi/auth';
import { createMessaging, type Messaging } from '@lpi/messaging';
import { SecretsClient, readSecretsConfig, type ServiceSecret } from '@lpi/secrets';
import {
  ReadinessRegistry,
  ServiceBootstrapModule,
  createLogger,
  startService,
} from '@lpi/service-bootstrap';
import { readRuntimeConfig, type RuntimeConfig } from './runtime.config';

/** What a service's feature module gets injected: its own identity chain, nothing else. */
export abstract class ServiceRuntime {
  abstract readonly service: ServiceName;
  abstract readonly config: RuntimeConfig;
  abstract readonly provider: ProviderClient;
  abstract readonly tokens: TokenManager;
  abstract readonly messaging: Messaging;
  abstract readonly secrets: SecretsClient;
}

const toCredential = (s: ServiceSecret): ClientCredential => ({
  clientId: s.data.client_id,
  clientSecret: s.data.client_secret,
  assertionKey: s.data.client_assertion_key,
  cert: s.data.client_cert,
  key: s.data.client_key,
  version: String(s.version),
});

/**
 * The identity chain every service runs on: its own Vault identity -> its own secret ->
 * its OAuth credentials and client certificate (token manager, provider client) and its
 * Redis password (messaging). A service starts with nothing but its role-id and wrapped
 * secret-id and refuses to start if any link fails.
 */
export async function startIntegrationService(
  service: ServiceName,
  feature: (runtime: ServiceRuntime) => Type<unknown> | DynamicModule,
): Promise<NestExpressApplication> {
  const config = readRuntimeConfig(service);
  const callerAuth = readCallerAuthConfig(service);
  const logger = createLogger({ service, level: config.LOG_LEVEL });
  const secretsOptions = readSecretsConfig(service);
  const secrets = await SecretsClient.connect({ ...secretsOptions, logger });
  const credentials = new CredentialSet(toCredential(secrets.current()));
  const tokens = new TokenManager({
    issuer: config.PROVIDER_ISSUER,
    caCert: config.providerCa,
    clients: [
      {
        name: 'provider',
        credentials,
        scopes: grantOf(service).oauth.scopes,
        authMethod: grantOf(service).oauth.tokenEndpointAuthMethod,
      },
    ],
    logger,
  });
  const provider = new ProviderClient(tokens, 'provider', config.PROVIDER_API_URL, {
    fixedToken: config.PROVIDER_TOKEN_MODE === 'fixed',
  });
  if (config.PROVIDER_TOKEN_MODE === 'fixed')
    logger.warn('PROVIDER_TOKEN_MODE=fixed: benchmark baseline, tokens are not managed');
  const messaging = createMessaging({
    service,
    redis: {
      host: config.REDIS_HOST,
      port: config.REDIS_PORT,
      password: secrets.current().data.redis_password,
    },
    backoffMs: config.JOB_BACKOFF_MS,
    backoffCapMs: config.JOB_BACKOFF_CAP_MS,
    retryForMs: config.JOB_RETRY_FOR_MS,
    lockDurationMs: config.QUEUE_LOCK_MS,
    stalledIntervalMs: Math.max(500, Math.floor(config.QUEUE_LOCK_MS / 2)),
    onError: (err, context) =>
      logger.warn({ context, err: { message: err.message } }, 'messaging error'),
  });
  secrets.watchServiceSecret((s) => {
    credentials.update(toCredential(s));
    messaging.updatePassword(s.data.redis_password);
    logger.info({ version: s.version }, 'credentials rotated from Vault');
  });
  const runtime: ServiceRuntime = { service, config, provider, tokens, messaging, secrets };

  const app = await startService({
    service,
    port: config.PORT,
    host: config.HOST,
    module: {
      module: class IntegrationRootModule {},
      imports: [
        ServiceBootstrapModule.forService({ service, logLevel: config.LOG_LEVEL }),
        // every route: a caller token from the matrix's callers, or refused (ADR 0014)
        CallerAuthModule.forService(service, callerAuth, logger),
        feature(runtime),
      ],
      providers: [{ provide: ServiceRuntime, useValue: runtime }],
      exports: [ServiceRuntime],
      global: true,
    },
  });
  const readiness = app.get(ReadinessRegistry);
  readiness.register('redis', () => messaging.ping());
  readiness.register('provider-token', async () => void (await tokens.getToken('provider')));
  await messaging.start(); // every consumed queue must have its handler by now
  const close = async () => {
    await messaging.close();
    tokens.close();
    secrets.close();
  };
  process.once('SIGTERM', () => void close());
  process.once('SIGINT', () => void close());
  return app;
}
