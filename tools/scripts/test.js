#!/usr/bin/env node
// `npm test`: lint (module boundaries included), type-check, then every jest suite.
// Each step prints what it is doing; the first failing step stops the run.
const { spawnSync } = require('node:child_process');

const steps = [
  // eslint's module-boundary rule silently skips itself without a project graph on disk
  ['nx project graph', 'npx', ['nx', 'show', 'projects']],
  ['lint (eslint + nx module boundaries)', 'npx', ['eslint', '.', '--max-warnings=0']],
  ['typecheck (tsc --noEmit)', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']],
  ['unit, integration and end-to-end tests (jest)', 'npx', ['jest', ...process.argv.slice(2)]],
];

const started = Date.now();
steps.forEach(([title, cmd, args], i) => {
  const t0 = Date.now();
  console.log(`\n==> [${i + 1}/${steps.length}] ${title}`);
  const res = spawnSync(cmd, args, {
    stdio: 'inherit',
    env: { ...process.env, NX_DAEMON: 'false', FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
  });
  if (res.status !== 0) {
    console.error(`\n✗ step ${i + 1} (${title}) failed with exit code ${res.status}`);
    process.exit(res.status ?? 1);
  }
  console.log(`✓ ${title} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
});
console.log(`\nall steps passed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
