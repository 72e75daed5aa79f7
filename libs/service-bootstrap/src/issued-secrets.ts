import { createHash } from 'node:crypto';
import { appendFileSync } from 'node:fs';

/**
 * Run-wide leak scans (`npm test`) need to know every secret issued in the run without
 * writing any of them down: the issuers (provider sandbox, vault-dev, the test helpers)
 * append fingerprints, and the scan fingerprints every secret-shaped run of log text.
 */
export const secretFingerprint = (value: string): string =>
  createHash('sha256').update(value).digest('hex').slice(0, 32);

/** Shorter values are not secrets we issue, and would match ordinary words. */
export const MIN_SECRET_LENGTH = 12;

/** A recorder for `file`, or a no-op when there is none (production, benchmarks). */
export function issuedSecretsRecorder(file: string | undefined): (values: string[]) => void {
  if (!file) return () => undefined;
  return (values) => {
    const lines = values
      // certificates are public; a PEM key is matched line by line, as it appears in a log
      .filter((v) => !v.includes('CERTIFICATE-----'))
      .flatMap((v) => (v.includes('\n') ? v.split('\n').filter((l) => l.length >= 40) : [v]))
      .filter((v) => v.length >= MIN_SECRET_LENGTH)
      .map(secretFingerprint);
    if (lines.length) appendFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  };
}

/** The forms a client secret travels in: itself and inside a Basic credential. */
export const clientSecretForms = (clientId: string, secret: string): string[] => [
  secret,
  Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64'),
];
