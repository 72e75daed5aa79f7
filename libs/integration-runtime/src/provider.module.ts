import {
  Inject,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { grantOf, type ServiceName } from '@lpi/access-matrix';
import {
  AuthModule,
  CREDENTIALS,
  CredentialSet,
  TokenManager,
  type ClientCredential,
} from '@lpi/auth';
import { ServiceSecretSource, type ServiceSecret } from '@lpi/secrets';
import { METRICS_REGISTRY, SERVICE_LOGGER } from '@lpi/service-bootstrap';
import { RUNTIME_CONFIG, SERVICE_NAME } from './runtime.tokens';
import type { RuntimeConfig } from './runtime.config';

export const toCredential = (s: ServiceSecret): ClientCredential => ({
  clientId: s.data.client_id,
  clientSecret: s.data.client_secret,
  assertionKey: s.data.client_assertion_key,
  cert: s.data.client_cert,
  key: s.data.client_key,
  version: String(s.version),
});

/** A new secret version in Vault: the token manager uses the new credential from now on. */
@Injectable()
class CredentialRotation implements OnModuleInit, OnApplicationShutdown {
  private unwatch?: () => void;

  constructor(
    @Inject(ServiceSecretSource) private readonly secrets: ServiceSecretSource,
    @Inject(CREDENTIALS) private readonly credentials: CredentialSet,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onModuleInit(): void {
    this.unwatch = this.secrets.watch((s) => {
      this.credentials.update(toCredential(s));
      this.logger.info({ version: s.version }, 'provider credentials rotated from Vault');
    });
  }

  onApplicationShutdown(): void {
    this.unwatch?.();
  }
}

/**
 * The provider side of the identity chain: the service's OAuth credential and client
 * certificate from its Vault secret -> token manager -> `ProviderClient`. Not part of
 * readiness: the API only enqueues, so an authorization-server outage shows in the token
 * manager's logs and metrics and in job retries, not as unready pods.
 */
const auth = AuthModule.forServiceAsync({
  inject: [SERVICE_NAME, RUNTIME_CONFIG, ServiceSecretSource, SERVICE_LOGGER, METRICS_REGISTRY],
  useFactory: (
    service: ServiceName,
    config: RuntimeConfig,
    secrets: ServiceSecretSource,
    logger: Logger,
    metricsRegistry: Registry,
  ) => {
    if (config.PROVIDER_TOKEN_MODE === 'fixed')
      logger.warn('PROVIDER_TOKEN_MODE=fixed: benchmark baseline, tokens are not managed');
    return {
      clientName: 'provider',
      issuer: config.PROVIDER_ISSUER,
      apiBaseUrl: config.PROVIDER_API_URL,
      caCert: config.providerCa,
      scopes: grantOf(service).oauth.scopes,
      resource: config.PROVIDER_AUDIENCE,
      authMethod: grantOf(service).oauth.tokenEndpointAuthMethod,
      credential: toCredential(secrets.current()),
      logger,
      metricsRegistry,
      fixedToken: config.PROVIDER_TOKEN_MODE === 'fixed',
    };
  },
});

/**
 * Fetches the first provider token as the service starts, in the background: the first job
 * does not wait for it, and a broken credential or an unreachable authorization server shows
 * in the log at start-up. Readiness never waits for it (see above).
 */
@Injectable()
class FirstTokenWarmUp implements OnApplicationBootstrap {
  constructor(
    @Inject(TokenManager) private readonly tokens: TokenManager,
    @Inject(SERVICE_LOGGER) private readonly logger: Logger,
  ) {}

  onApplicationBootstrap(): void {
    this.tokens.getToken('provider').then(
      () => this.logger.info('first provider token fetched'),
      (err: unknown) =>
        this.logger.warn(
          { code: (err as { code?: unknown })?.code },
          'first provider token not fetched; jobs will retry it',
        ),
    );
  }
}

@Module({
  imports: [auth],
  providers: [CredentialRotation, FirstTokenWarmUp],
  exports: [auth],
})
export class ProviderModule {}
