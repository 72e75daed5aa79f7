// The last step of `npm test`: every log written during the run (jest's own output, and
// every process the suites started: services, sandbox, vault-dev, drills, the demo) is
// scanned for every secret and token issued in the run. Prints counts and where a hit is,
// never the value. Usage: scan-run-logs.ts <log dir> <fingerprints file>
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { scanLogsForIssuedSecrets } from '@lpi/testing';

const [logDir, fingerprintsFile] = process.argv.slice(2);
if (!logDir || !fingerprintsFile) {
  console.error('usage: scan-run-logs.ts <log dir> <fingerprints file>');
  process.exit(2);
}
if (!existsSync(fingerprintsFile)) {
  // nothing recorded means the issuers are not wired to record: the scan would prove nothing
  console.error(`no secrets were recorded in ${fingerprintsFile}: the leak scan cannot run`);
  process.exit(1);
}
const result = scanLogsForIssuedSecrets(logDir, fingerprintsFile);
const mb = (result.bytes / 1024 / 1024).toFixed(1);
console.log(
  `scanned ${result.files} log files (${mb} MB) for ${result.fingerprints} secrets and tokens issued in this run: ${result.hits.length} hits`,
);
for (const hit of result.hits.slice(0, 50))
  console.error(
    `  leak: ${relative(logDir, hit.file)}:${hit.line} (fingerprint ${hit.fingerprint})`,
  );
if (result.fingerprints < 10 || result.files < 5) {
  console.error('too little was recorded or logged for this scan to mean anything');
  process.exit(1);
}
process.exit(result.hits.length ? 1 : 0);
