import pino, { type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { REDACTED, REDACT_PATHS, redactNested, scrubSecrets, scrubValue } from './redaction';

// their serializer (scrubValue) keeps no secret-named keys; the nested net leaves them alone
const SERIALIZED = new Set(['err', 'error']);

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
    formatters: { log: (record) => redactNested(record, SERIALIZED) },
    // second net: scrub the finished line for token/key/secret shapes. This sees the message,
    // every field, bindings and serialized values, and costs a few regex passes over one
    // string; scrubbing the record object instead meant deep-copying raw req/res objects
    hooks: { streamWrite: scrubSecrets },
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
