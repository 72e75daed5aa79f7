import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { REDACTED, REDACT_PATHS, scrubSecrets, scrubValue } from './redaction';

export interface LoggerSettings {
  service: string;
  level?: string;
  /** Where lines go (defaults to stdout). Tests pass a capture stream. */
  destination?: DestinationStream;
}

export function loggerOptions({ service, level = 'info' }: LoggerSettings): LoggerOptions {
  return {
    level,
    base: { service },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    // second net: scrub every value of every record for token/key/secret shapes
    formatters: { log: (record) => scrubValue(record) as Record<string, unknown> },
    // the message string itself (formatters.log only sees the merged object)
    hooks: {
      logMethod(args, method) {
        return method.apply(
          this,
          args.map((a) => (typeof a === 'string' ? scrubSecrets(a) : a)) as Parameters<
            typeof method
          >,
        );
      },
    },
    serializers: {
      err: (err: unknown) => scrubValue(err),
      error: (err: unknown) => scrubValue(err),
    },
  };
}

export function createLogger(settings: LoggerSettings): Logger {
  return settings.destination
    ? pino(loggerOptions(settings), settings.destination)
    : pino(loggerOptions(settings));
}
