import { type DynamicModule, Global, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import type { DestinationStream } from 'pino';
import { randomUUID } from 'node:crypto';
import { ErrorEnvelopeFilter } from './errors';
import { HealthController, ReadinessRegistry } from './health';
import { createLogger } from './logger';

export interface ServiceDefaults {
  service: string;
  logLevel?: string;
  logDestination?: DestinationStream;
}

/**
 * The "service defaults" every app imports once: pino logging with redaction and request
 * ids, the error envelope, liveness/readiness endpoints.
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
    return {
      module: ServiceBootstrapModule,
      imports: [
        TerminusModule.forRoot({ logger: false }),
        LoggerModule.forRoot({
          pinoHttp: {
            logger,
            genReqId: (req, res) => {
              const incoming = req.headers['x-request-id'];
              const id =
                typeof incoming === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(incoming)
                  ? incoming
                  : `req_${randomUUID()}`;
              res.setHeader('x-request-id', id);
              return id;
            },
            autoLogging: { ignore: (req) => (req.url ?? '').startsWith('/health') },
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
        }),
      ],
      controllers: [HealthController],
      providers: [ReadinessRegistry, { provide: APP_FILTER, useClass: ErrorEnvelopeFilter }],
      exports: [ReadinessRegistry],
    };
  }
}
