import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The README's first command must keep working: run it as a user would and read its verdict.
it('npm run demo exits 0 and reports every check held', () => {
  const root = join(__dirname, '..', '..');
  const res = spawnSync(process.execPath, ['-r', '@swc-node/register', 'tools/demo/demo.ts'], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(res.stdout).toMatch(/summary: (\d+)\/\1 checks held/);
  expect(res.stdout).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\./); // no token printed
  expect(res.status).toBe(0);
});
