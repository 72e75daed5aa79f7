import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { BUNDLE_EXTERNALS, expectedTargets, workspaceProjects } from './project-targets';

const ROOT = join(__dirname, '..', '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const config = require('./esbuild.config.js') as {
  plugins: unknown[];
  external: string[];
};

describe('every project has its targets (house style 12)', () => {
  it.each(workspaceProjects(ROOT))('$dir', ({ dir, kind }) => {
    const project = JSON.parse(readFileSync(join(ROOT, dir, 'project.json'), 'utf8'));
    // drift: run `node -r @swc-node/register tools/build/project-targets.ts`
    expect(project.targets).toEqual(expectedTargets(dir, kind, project.name));
    expect(Object.keys(project.targets)).toEqual(
      kind === 'app' ? ['build', 'serve', 'test', 'lint'] : ['build', 'test', 'lint'],
    );
  });
});

describe('the app bundle (esbuild + swc)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'lpi-build-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const bundle = async (plugins: unknown[]) => {
    const outfile = join(dir, `fixture-${plugins.length}.js`);
    await build({
      entryPoints: [join(__dirname, 'fixtures', 'injection.fixture.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      external: config.external,
      plugins: plugins as never,
      logLevel: 'silent',
    });
    return execFileSync(process.execPath, [outfile], { encoding: 'utf8' }).trim();
  };

  it('keeps the decorator metadata Nest injects by, and runs under plain node', async () => {
    // only the swc plugin (the other writes a package.json next to an outfile it is given)
    expect(await bundle(config.plugins.slice(0, 1))).toBe('injected');
  }, 60_000);

  it('needs swc for it: esbuild alone loses the constructor types', async () => {
    expect(await bundle([])).toBe('not injected');
  }, 60_000);
});

describe('the runtime package.json next to a bundle', () => {
  it('holds only the externals, with their closure from the workspace lock', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { lockClosure } = require('./runtime-package.js') as {
      lockClosure(lock: unknown, externals: string[]): Record<string, { version: string }>;
    };
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    const closure = Object.keys(lockClosure(lock, BUNDLE_EXTERNALS));
    expect(closure).toContain('node_modules/msgpackr-extract');
    expect(closure).toContain('node_modules/node-gyp-build-optional-packages');
    expect(closure.some((k) => /typescript|@swc|jest|\/nx$/.test(k))).toBe(false);
    expect(() => lockClosure(lock, ['no-such-package'])).toThrow(/not in package-lock.json/);
  });
});
