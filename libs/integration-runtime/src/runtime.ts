import type { DynamicModule, Type } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { ServiceName } from '@lpi/access-matrix';
import { startService } from '@lpi/service-bootstrap';
import type { RuntimeConfig } from './runtime.config';
import { RUNTIME_CONFIG } from './runtime.tokens';

/**
 * Starts a service whose root module imports `IntegrationRuntimeModule.forService(service)`:
 * where it listens and how long shutdown may drain come from its validated settings.
 */
export function startIntegrationService(
  service: ServiceName,
  rootModule: Type<unknown> | DynamicModule,
): Promise<NestExpressApplication> {
  const config = (app: NestExpressApplication) => app.get<RuntimeConfig>(RUNTIME_CONFIG);
  return startService({
    service,
    module: rootModule,
    port: (app) => config(app).PORT,
    host: (app) => config(app).HOST,
    shutdownGraceMs: (app) => config(app).SHUTDOWN_GRACE_MS,
  });
}
