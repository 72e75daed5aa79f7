import {
  type DynamicModule,
  Global,
  Inject,
  Injectable,
  Module,
  type OnApplicationShutdown,
  type OnModuleInit,
} from '@nestjs/common';
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import { databaseCredsPathOf, type ServiceName } from '@lpi/access-matrix';
import { SecretsClient } from '@lpi/secrets';
import { METRICS_REGISTRY, ReadinessRegistry, SERVICE_LOGGER } from '@lpi/service-bootstrap';
import { CredentialLease } from './credential-lease';
import { Database } from './database';
import { readDatabaseConfig } from './database.config';

@Injectable()
class DatabaseLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    @Inject(Database) private readonly database: Database,
    @Inject(CredentialLease) private readonly lease: CredentialLease,
    @Inject(ReadinessRegistry) private readonly readiness: ReadinessRegistry,
    @Inject(METRICS_REGISTRY) private readonly metrics: Registry,
  ) {}

  onModuleInit(): void {
    this.readiness.register('database', () => this.database.check());
    const lease = this.lease;
    new Gauge({
      name: 'lpi_database_lease_ttl_seconds',
      help: "seconds left on the lease of the service's current database login",
      registers: [this.metrics],
      collect() {
        this.set(lease.figures().ttlSeconds);
      },
    });
    new Counter({
      name: 'lpi_database_logins_total',
      help: 'database logins read from Vault (start-up and every rotation)',
      registers: [this.metrics],
      collect() {
        this.reset();
        this.inc(lease.figures().rotations);
      },
    });
  }

  /** After the workers drained (beforeApplicationShutdown): nothing needs the database now. */
  async onApplicationShutdown(): Promise<void> {
    this.lease.close();
    await this.database.close();
  }
}

/**
 * The service's database as a Nest provider: its own short-lived login from Vault
 * (`database/creds/<service>`, a user holding exactly its table grants), kept alive and
 * replaced before it expires; ready while a query runs; closed after the workers drain.
 */
@Global()
@Module({})
export class DatabaseModule {
  static forService(service: ServiceName): DynamicModule {
    return {
      module: DatabaseModule,
      providers: [
        {
          provide: Database,
          inject: [SERVICE_LOGGER],
          useFactory: (logger: Logger) => new Database(readDatabaseConfig(service), logger),
        },
        {
          provide: CredentialLease,
          inject: [SecretsClient, Database, SERVICE_LOGGER],
          useFactory: async (secrets: SecretsClient, database: Database, logger: Logger) => {
            const lease = new CredentialLease(
              secrets,
              databaseCredsPathOf(service),
              (login) => database.useLogin(login),
              logger,
            );
            await lease.start();
            return lease;
          },
        },
        DatabaseLifecycle,
      ],
      exports: [Database],
    };
  }
}
