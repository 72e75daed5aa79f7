import { type DynamicModule, Global, Module } from '@nestjs/common';
import type { ServiceName } from '@lpi/access-matrix';
import { CallerAuthModule } from '@lpi/auth';
import { Database, DatabaseModule } from '@lpi/database';
import { SecretsModule } from '@lpi/secrets';
import { ServiceBootstrapModule } from '@lpi/service-bootstrap';
import { MessagingModule } from './messaging.module';
import { OpenApiController } from './openapi.controller';
import { ProviderModule } from './provider.module';
import { RecordsFactory, SqlRequestRecords } from './records';
import { readRuntimeConfig, type RuntimeConfig } from './runtime.config';
import { RUNTIME_CONFIG, SERVICE_NAME } from './runtime.tokens';
import { refuseSettingsNoServiceReads } from './settings.config';

@Global()
@Module({})
class RuntimeConfigModule {}

/**
 * The identity chain every integration service runs on, as Nest modules that own their
 * objects: its settings (read and validated once) -> its own Vault session and secret ->
 * its OAuth credential and client certificate (token manager, `ProviderClient`), its
 * Redis password (queues) and its short-lived database login (`Database`, `RecordsFactory`). Start-up fails if any link does. Features inject the narrow
 * pieces they use: `ProviderClient`, a `Producer` (`producerToken(queue)`), `Consumers`,
 * `Database`, `RecordsFactory`, `ServiceSecretSource`, `RUNTIME_CONFIG`.
 */
@Global()
@Module({})
export class IntegrationRuntimeModule {
  static forService(service: ServiceName): DynamicModule {
    const config: DynamicModule = {
      module: RuntimeConfigModule,
      providers: [
        { provide: SERVICE_NAME, useValue: service },
        {
          provide: RUNTIME_CONFIG,
          useFactory: () => {
            refuseSettingsNoServiceReads(service);
            return readRuntimeConfig(service);
          },
        },
      ],
      exports: [SERVICE_NAME, RUNTIME_CONFIG],
    };
    const defaults = ServiceBootstrapModule.forServiceAsync({
      service,
      imports: [config],
      inject: [RUNTIME_CONFIG],
      logLevel: (c: RuntimeConfig) => c.LOG_LEVEL,
    });
    const secrets = SecretsModule.forService(service);
    const messaging = MessagingModule.forService(service);
    const database = DatabaseModule.forService(service);
    return {
      module: IntegrationRuntimeModule,
      // every route: its declared callers only, with their short-lived tokens (ADR 0014)
      imports: [
        config,
        defaults,
        secrets,
        ProviderModule,
        messaging,
        database,
        CallerAuthModule.forService(service),
      ],
      // GET /openapi.json: the service's API description (a public route, ADR 0024)
      controllers: [OpenApiController],
      providers: [
        {
          provide: RecordsFactory,
          inject: [Database],
          useFactory: (db: Database): RecordsFactory => ({
            open: (table, columns) => new SqlRequestRecords(db, table, columns),
          }),
        },
      ],
      exports: [config, secrets, ProviderModule, messaging, database, RecordsFactory],
    };
  }
}
