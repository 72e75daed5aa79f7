import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MIN_SECRET_LENGTH, secretFingerprint } from '@lpi/service-bootstrap';

// characters our secrets and their encodings are made of (base64, base64url, JWT, hvs.)
const RUN = /[A-Za-z0-9_\-.~+/=:%]+/g;
// characters that can also be the glue around a secret (`token=...`, `a:b`, `x.y`)
const SEPARATOR = /[.~+/=:%]/g;
const MAX_SEPARATORS = 16;

/**
 * Every substring of a run that starts at the run's start or just after a separator and
 * ends at the run's end or just before one: a leaked value shows up as one of them however
 * it was glued into the line (`"secret":"..."`, `secret=...`, `Bearer ...`, `x:y`).
 */
export function candidateSecrets(line: string): string[] {
  const out: string[] = [];
  for (const [run] of line.matchAll(RUN)) {
    if (run.length < MIN_SECRET_LENGTH) continue;
    const seps = [...run.matchAll(SEPARATOR)].map((m) => m.index).slice(0, MAX_SEPARATORS);
    const starts = [0, ...seps.map((i) => i + 1)];
    const ends = [run.length, ...seps];
    for (const s of starts)
      for (const e of ends) if (e - s >= MIN_SECRET_LENGTH) out.push(run.slice(s, e));
  }
  return out;
}

export interface LeakHit {
  file: string;
  line: number;
  fingerprint: string;
}

export interface LogScanResult {
  files: number;
  bytes: number;
  fingerprints: number;
  hits: LeakHit[];
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

/** Scans every file under `logDir` for any secret whose fingerprint is in `fingerprintsFile`. */
export function scanLogsForIssuedSecrets(
  logDir: string,
  fingerprintsFile: string,
  skip: (file: string) => boolean = () => false,
): LogScanResult {
  const fingerprints = new Set(readFileSync(fingerprintsFile, 'utf8').split('\n').filter(Boolean));
  const result: LogScanResult = { files: 0, bytes: 0, fingerprints: fingerprints.size, hits: [] };
  for (const file of filesUnder(logDir)) {
    if (skip(file)) continue;
    const text = readFileSync(file, 'utf8');
    result.files += 1;
    result.bytes += text.length;
    text.split('\n').forEach((line, i) => {
      for (const candidate of candidateSecrets(line)) {
        const fp = secretFingerprint(candidate);
        if (fingerprints.has(fp)) result.hits.push({ file, line: i + 1, fingerprint: fp });
      }
    });
  }
  return result;
}
