import 'reflect-metadata';
import type { DynamicModule, INestApplication, NestApplicationOptions, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { ConfigError } from './config';
import { ReadinessRegistry } from './health';
import { scrubSecrets } from './redaction';

export interface StartOptions {
  service: string;
  module: Type<unknown> | DynamicModule;
  port: number;
  host?: string;
  httpsOptions?: NestApplicationOptions['httpsOptions'];
  /** JSON body limit (default 64 kB: payment APIs take small bodies). */
  bodyLimit?: string;
  configure?: (app: NestExpressApplication) => void | Promise<void>;
}

/** Creates, configures and starts a NestJS app with the project's defaults. */
export async function startService(options: StartOptions): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(options.module as Type<unknown>, {
    bufferLogs: true,
    httpsOptions: options.httpsOptions,
    bodyParser: false,
    // keep the exact bytes for signature checks (webhooks)
    rawBody: true,
  });
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  app.useBodyParser('json', { limit: options.bodyLimit ?? '64kb' });
  app.useBodyParser('urlencoded', { limit: options.bodyLimit ?? '64kb', extended: false });
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await options.configure?.(app);
  await app.listen(options.port, options.host ?? '127.0.0.1');
  app.get(Logger).log(`${options.service} listening on ${await app.getUrl()}`);
  return app;
}

/** Readiness goes red first, then in-flight work drains, then the app closes. */
export async function shutdownGracefully(app: INestApplication): Promise<void> {
  app.get(ReadinessRegistry).markShuttingDown();
  await app.close();
}

/**
 * For `main.ts`: run start-up; on failure print one clear line (never a secret) and exit 1,
 * so an orchestrator sees a crash loop with the reason, not a half-started service.
 */
export function runMain(service: string, start: () => Promise<unknown>): void {
  start().catch((err: unknown) => {
    const message =
      err instanceof ConfigError ? err.message : `${service}: start-up failed: ${describe(err)}`;
    process.stderr.write(`${scrubSecrets(message)}\n`);
    process.exit(1);
  });
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return `${code ? `[${String(code)}] ` : ''}${err.message}`;
  }
  return String(err);
}
