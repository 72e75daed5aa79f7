// The package.json and package-lock.json that go next to a bundle: only the packages the
// bundle leaves external (native add-ons), at the versions the workspace lock pins, with
// their dependency closure copied from that lock, so an image runs `npm ci --omit=dev`
// on a few packages instead of the workspace's hundreds.
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

/** Where npm would resolve `name` from the package at lock key `from` (nested first). */
function resolveInLock(packages, from, name) {
  for (let dir = from; ;) {
    const key = `${dir ? `${dir}/` : ''}node_modules/${name}`;
    if (packages[key]) return key;
    if (!dir) return undefined;
    const at = dir.lastIndexOf('/node_modules/');
    dir = at < 0 ? '' : dir.slice(0, at);
  }
}

/**
 * The lock entries `externals` need: each one and, transitively, its dependencies and
 * optional dependencies (an optional one the lock does not hold, another platform's
 * binary, is simply absent there too).
 */
function lockClosure(lock, externals) {
  const packages = lock.packages;
  const picked = {};
  const visit = (key, name, optional) => {
    if (!key) {
      if (optional) return;
      throw new Error(`runtime package: ${name} is not in package-lock.json`);
    }
    if (picked[key]) return;
    picked[key] = packages[key];
    const entry = packages[key];
    for (const dep of Object.keys(entry.dependencies ?? {}))
      visit(resolveInLock(packages, key, dep), dep, false);
    for (const dep of Object.keys(entry.optionalDependencies ?? {}))
      visit(resolveInLock(packages, key, dep), dep, true);
  };
  for (const name of externals) visit(resolveInLock(packages, '', name), name, false);
  return picked;
}

/** Writes `<outDir>/package.json` and `<outDir>/package-lock.json` for a bundle. */
function writeRuntimePackage({ workspaceRoot, outDir, name, externals }) {
  const lock = JSON.parse(readFileSync(join(workspaceRoot, 'package-lock.json'), 'utf8'));
  const closure = lockClosure(lock, externals);
  const dependencies = Object.fromEntries(
    externals.map((e) => [e, closure[`node_modules/${e}`].version]),
  );
  const pkg = {
    name,
    version: '0.0.0',
    private: true,
    main: 'main.js',
    engines: { node: '>=20.19.0' },
    dependencies,
  };
  const runtimeLock = {
    name,
    version: '0.0.0',
    lockfileVersion: 3,
    requires: true,
    packages: { '': { name, version: '0.0.0', dependencies }, ...closure },
  };
  writeFileSync(join(outDir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(join(outDir, 'package-lock.json'), `${JSON.stringify(runtimeLock, null, 2)}\n`);
}

module.exports = { writeRuntimePackage, lockClosure };
