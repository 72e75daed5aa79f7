#!/usr/bin/env node
// `npm test`: lint (module boundaries included), type-check, every jest suite, then a scan
// of every log the run wrote for every secret the run issued. Each step prints what it is
// doing; the first failing step stops the run.
const { spawn, spawnSync } = require('node:child_process');
const { createWriteStream, mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

// one directory per run: the logs of every process the suites start, jest's own output,
// and the fingerprints (never the values) of every secret issued
const runDir = mkdtempSync(join(tmpdir(), 'lpi-test-run-'));
const logDir = join(runDir, 'logs');
require('node:fs').mkdirSync(logDir);
const fingerprints = join(runDir, 'issued-secret-fingerprints');
const env = {
  ...process.env,
  NX_DAEMON: 'false',
  FORCE_COLOR: process.env.FORCE_COLOR ?? '0',
  LPI_LOG_DIR: logDir,
  LPI_ISSUED_SECRETS_FILE: fingerprints,
};

/** Runs a command; with `tee`, its output also goes to that file. */
function run(cmd, args, tee) {
  if (!tee) return Promise.resolve(spawnSync(cmd, args, { stdio: 'inherit', env }).status);
  return new Promise((resolve) => {
    const file = createWriteStream(tee);
    const child = spawn(cmd, args, { stdio: ['inherit', 'pipe', 'pipe'], env });
    child.stdout.on('data', (d) => (process.stdout.write(d), file.write(d)));
    child.stderr.on('data', (d) => (process.stderr.write(d), file.write(d)));
    child.on('close', (code) => file.end(() => resolve(code)));
  });
}

const steps = [
  // eslint's module-boundary rule silently skips itself without a project graph on disk
  ['nx project graph', 'npx', ['nx', 'show', 'projects']],
  ['lint (eslint + nx module boundaries)', 'npx', ['eslint', '.', '--max-warnings=0']],
  ['typecheck (tsc --noEmit)', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
  // every project's `test` target, one at a time (the end-to-end suites start whole stacks
  // on 2 cores) and never from Nx's cache: the leak scan needs every suite's logs from this
  // run. `npm test -- <paths>` runs just those specs through the root jest config instead.
  process.argv.length > 2
    ? [
        'the jest specs named',
        'npx',
        ['jest', ...process.argv.slice(2)],
        join(logDir, 'jest-output.log'),
      ]
    : [
        'unit, integration and end-to-end tests (nx run-many -t test)',
        'npx',
        ['nx', 'run-many', '-t', 'test', '--parallel=1', '--skip-nx-cache', '--outputStyle=stream'],
        join(logDir, 'jest-output.log'),
      ],
  [
    'leak scan: every log of this run against every secret it issued',
    process.execPath,
    ['-r', '@swc-node/register', 'tools/scripts/scan-run-logs.ts', logDir, fingerprints],
  ],
];

(async () => {
  const started = Date.now();
  for (const [i, [title, cmd, args, tee]] of steps.entries()) {
    const t0 = Date.now();
    console.log(`\n==> [${i + 1}/${steps.length}] ${title}`);
    const status = await run(cmd, args, tee);
    if (status !== 0) {
      console.error(`\n✗ step ${i + 1} (${title}) failed with exit code ${status}`);
      console.error(`  this run's logs are kept in ${logDir}`);
      process.exit(status ?? 1);
    }
    console.log(`✓ ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  rmSync(runDir, { recursive: true, force: true });
  console.log(`\nall steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
})();
