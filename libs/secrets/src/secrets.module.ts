import {
  type DynamicModule,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { ServiceName } from '@lpi/access-matrix';
import { METRICS_REGISTRY, ReadinessRegistry, SERVICE_LOGGER } from '@lpi/service-bootstrap';
import { SecretsClient, type ServiceSecret } from './secrets.client';
import { readSecretsConfig } from './secrets.config';
import { registerVaultSessionMetrics } from './secrets.metrics';

/** The narrow view a feature gets: this service's current secret, and its new versions. */
export abstract class ServiceSecretSource {
  abstract current(): ServiceSecret;
  /** Calls `onChange` with every new version until the returned function is called. */
  abstract watch(onChange: (secret: ServiceSecret) => void): () => void;
}

@Injectable()
class SecretsLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(SecretsClient) private readonly client: SecretsClient,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
    @Inject(METRICS_REGISTRY) private readonly metrics: Registry,
  ) {}

  onModuleInit(): void {
    registerVaultSessionMetrics(this.metrics, this.client);
    // ready while the session lives; Vault itself may be briefly away
    this.readiness.register('vault-session', async () => this.client.assertSession());
  }

  /** Last: jobs draining in `beforeApplicationShutdown` may still need the session. */
  onApplicationShutdown(): void {
    this.client.close();
  }
}

/**
 * The service's Vault session as a Nest provider: the factory logs in (a refused login
 * stops start-up) and reads the secret; token renewal runs from the login on; the session
 * stops when the app shuts down. Version polling runs while anyone watches. Its token TTL
 * and secret version are on `/metrics`.
 */
@Module({})
export class SecretsModule {
  static forService(service: ServiceName): DynamicModule {
    return {
      module: SecretsModule,
      providers: [
        {
          provide: SecretsClient,
          inject: [SERVICE_LOGGER],
          useFactory: (logger: Logger) =>
            SecretsClient.connect({ ...readSecretsConfig(service), logger }),
        },
        {
          provide: ServiceSecretSource,
          inject: [SecretsClient],
          useFactory: (client: SecretsClient): ServiceSecretSource => ({
            current: () => client.current(),
            watch: (onChange) => client.watchServiceSecret(onChange),
          }),
        },
        SecretsLifecycle,
      ],
      exports: [SecretsClient, ServiceSecretSource],
    };
  }
}
