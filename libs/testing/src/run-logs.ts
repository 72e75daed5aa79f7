import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { issuedSecretsRecorder } from '@lpi/service-bootstrap';

/**
 * `npm test` sets these two for the whole run: every process the tests start logs into
 * LPI_LOG_DIR, and every issuer appends fingerprints of what it issues to
 * LPI_ISSUED_SECRETS_FILE; after the last suite, the run's logs are scanned against them.
 */
export const runLogDir = (): string | undefined => process.env.LPI_LOG_DIR;
export const issuedSecretsFile = (): string | undefined => process.env.LPI_ISSUED_SECRETS_FILE;

/** Records secrets a test helper generates (admin tokens, passwords) for the run's scan. */
export const recordIssued = (values: string[]): void =>
  issuedSecretsRecorder(issuedSecretsFile())(values);

/** A fresh log file in the run's log directory, or undefined outside `npm test`. */
export function runLogFile(name: string): string | undefined {
  const dir = runLogDir();
  return dir
    ? join(dir, `${name}-${process.pid}-${randomBytes(4).toString('hex')}.log`)
    : undefined;
}

/** Environment that makes a spawned issuer record what it issues, if the run asks for it. */
export function issuedSecretsEnv(variable: string): Record<string, string> {
  const file = issuedSecretsFile();
  return file ? { [variable]: file } : {};
}

/** The last lines of a server's log file, on one line, for a start-up error message. */
export function logTail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trim().split('\n').slice(-lines).join(' | ');
}
