import 'reflect-metadata';
import type { DynamicModule, INestApplication, NestApplicationOptions, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { boundRequestBodies, envelopeRefusal } from './body-bounds';
import { ConfigError } from './config';
import { installEdgeGuards } from './edge';
import { ReadinessRegistry } from './health';
import { HttpMetrics } from './metrics';
import { scrubSecrets } from './redaction';

type FromApp<T> = T | ((app: NestExpressApplication) => T);
const resolve = <T>(v: FromApp<T>, app: NestExpressApplication): T =>
  typeof v === 'function' ? (v as (app: NestExpressApplication) => T)(app) : v;

export interface StartOptions {
  service: string;
  module: Type<unknown> | DynamicModule;
  /** Where to listen; a function reads it from the app's own (validated) config provider. */
  port: FromApp<number>;
  host?: FromApp<string>;
  httpsOptions?: NestApplicationOptions['httpsOptions'];
  /** Request body limit in bytes (default 64 KiB: payment APIs take small bodies). */
  bodyLimitBytes?: number;
  /** Deepest JSON nesting a body may have; deeper is refused before parsing (default 32). */
  maxJsonDepth?: number;
  /**
   * SIGTERM/SIGINT: readiness goes down, `app.close()` runs every module's shutdown hooks
   * (workers drain within this grace), then the process exits 0. Past the grace plus a
   * margin it exits 1. Default 20 s.
   */
  shutdownGraceMs?: FromApp<number>;
  configure?: (app: NestExpressApplication) => void | Promise<void>;
}

/** Creates, configures and starts a NestJS app with the project's defaults. */
export async function startService(options: StartOptions): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(options.module as Type<unknown>, {
    bufferLogs: true,
    // a provider that fails at start-up (bad config, Vault refusing) rejects here, for runMain
    abortOnError: false,
    autoFlushLogs: false,
    httpsOptions: options.httpsOptions,
    // body parsers are installed by installEdgeGuards, which also keeps `req.rawBody`
    bodyParser: false,
  });
  app.useLogger(app.get(Logger));
  app.disable('x-powered-by');
  // first: every answer is counted, the edge's refusals included
  app.use(app.get(HttpMetrics).middleware);
  const bodyLimitBytes = options.bodyLimitBytes ?? 64 * 1024;
  // bound what is read before any parser sees it: an oversized body is refused unread and
  // its connection closed, never drained to the end (issue 16)
  boundRequestBodies(app.getHttpServer(), bodyLimitBytes, envelopeRefusal);
  installEdgeGuards(app, {
    bodyLimit: bodyLimitBytes,
    maxJsonDepth: options.maxJsonDepth ?? 32,
  });
  await options.configure?.(app);
  onSignals(app, options.service, resolve(options.shutdownGraceMs ?? 20_000, app));
  await app.listen(resolve(options.port, app), resolve(options.host ?? '127.0.0.1', app));
  app.get(Logger).log(`${options.service} listening on ${await app.getUrl()}`);
  return app;
}

/**
 * The one shutdown path (Nest's own `enableShutdownHooks` is not used: it re-kills the
 * process after `close()`, so the exit code says "killed" even after a clean drain).
 */
function onSignals(app: INestApplication, service: string, graceMs: number): void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const logger = app.get(Logger);
    logger.log(`${signal}: ${service} stops taking work; in-flight jobs get ${graceMs} ms`);
    const deadline = setTimeout(() => {
      process.stderr.write(`${service}: shutdown did not finish within ${graceMs} ms; exiting\n`);
      process.exit(1);
    }, graceMs + 5000);
    deadline.unref();
    shutdownGracefully(app).then(
      () => {
        logger.log(`${service} stopped cleanly`);
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`${scrubSecrets(`${service}: shutdown failed: ${describe(err)}`)}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

/**
 * Readiness goes red first (the load balancer stops sending new requests), then `close()`
 * runs the modules' hooks: workers stop taking jobs and finish the ones in flight
 * (`beforeApplicationShutdown`), connections close (`onApplicationShutdown`), HTTP closes.
 */
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
