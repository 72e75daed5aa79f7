import { type DynamicModule, Global, Module, type ModuleMetadata } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule, type Params } from 'nestjs-pino';
import type { DestinationStream, Logger } from 'pino';
import { ErrorEnvelopeFilter } from './errors';
import { HealthController, ReadinessRegistry } from './health';
import { createLogger } from './logger';
import { HttpMetrics, METRICS_REGISTRY, MetricsController, createServiceRegistry } from './metrics';
import { requestIdOf } from './request-id';

export interface ServiceDefaults {
  service: string;
  logLevel?: string;
  logDestination?: DestinationStream;
}

/** The service's root pino logger (redacting); libraries log through it outside requests. */
export const SERVICE_LOGGER = Symbol('SERVICE_LOGGER');

export interface ServiceDefaultsAsync extends Pick<ModuleMetadata, 'imports'> {
  service: string;
  inject?: (string | symbol | (abstract new (...args: never[]) => unknown))[];
  /** The log level, from the service's validated config. */
  logLevel: (...deps: never[]) => string | undefined;
}

@Module({})
class ServiceLoggerModule {}

const pinoParams = (logger: Logger): Params => ({
  pinoHttp: {
    logger,
    genReqId: (req, res) => requestIdOf(req, res),
    // probes and scrapes come every few seconds: they are counted in metrics, not logged
    autoLogging: {
      ignore: (req) => /^\/(health\/|metrics(\?|$))/.test(req.url ?? ''),
    },
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({
        id: req.id,
        method: req.method,
        // query strings can carry tokens; log the path only
        url: String(req.url).split('?')[0],
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  },
});

/**
 * The "service defaults" every app imports once: pino logging with redaction and request
 * ids, the error envelope, liveness/readiness endpoints, the process's metrics registry and
 * `GET /metrics`.
 */
@Global()
@Module({})
export class ServiceBootstrapModule {
  static forService(defaults: ServiceDefaults): DynamicModule {
    const logger = createLogger({
      service: defaults.service,
      level: defaults.logLevel,
      destination: defaults.logDestination,
    });
    return this.build(defaults.service, {
      module: ServiceLoggerModule,
      providers: [{ provide: SERVICE_LOGGER, useValue: logger }],
      exports: [SERVICE_LOGGER],
    });
  }

  /** As `forService`, with the log level read from a config provider when the app starts. */
  static forServiceAsync(defaults: ServiceDefaultsAsync): DynamicModule {
    return this.build(defaults.service, {
      module: ServiceLoggerModule,
      imports: defaults.imports ?? [],
      providers: [
        {
          provide: SERVICE_LOGGER,
          inject: defaults.inject ?? [],
          useFactory: (...deps: never[]) =>
            createLogger({ service: defaults.service, level: defaults.logLevel(...deps) }),
        },
      ],
      exports: [SERVICE_LOGGER],
    });
  }

  private static build(service: string, loggerModule: DynamicModule): DynamicModule {
    return {
      module: ServiceBootstrapModule,
      imports: [
        loggerModule,
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRootAsync({
          imports: [loggerModule],
          inject: [SERVICE_LOGGER],
          useFactory: pinoParams,
        }),
      ],
      controllers: [HealthController, MetricsController],
      providers: [
        ReadinessRegistry,
        { provide: APP_FILTER, useClass: ErrorEnvelopeFilter },
        { provide: METRICS_REGISTRY, useFactory: () => createServiceRegistry(service) },
        HttpMetrics,
      ],
      exports: [ReadinessRegistry, loggerModule, METRICS_REGISTRY, HttpMetrics],
    };
  }
}
