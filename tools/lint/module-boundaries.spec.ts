import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';

// The boundary rule must fail the build, not merely exist: lint a few forbidden imports as
// if they lived in real projects and expect the rule to name each one.
const root = join(__dirname, '..', '..');

// eslint runs as a child process: its config loader uses dynamic import(), which jest's VM lacks
async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const res = spawnSync(
    join(root, 'node_modules', '.bin', 'eslint'),
    ['--stdin', '--stdin-filename', join(root, file), '--format', 'json'],
    { cwd: root, input: code, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' } },
  );
  const [result] = JSON.parse(res.stdout) as { messages: { ruleId: string; message: string }[] }[];
  return result.messages
    .filter((m) => m.ruleId === '@nx/enforce-module-boundaries')
    .map((m) => m.message);
}

beforeAll(() => {
  execFileSync('npx', ['nx', 'show', 'projects'], {
    cwd: root,
    env: { ...process.env, NX_DAEMON: 'false' },
  });
});

describe('module boundaries', () => {
  it('forbids a contract library from importing an SDK it does not own', async () => {
    const errors = await boundaryErrors(
      'libs/access-matrix/src/access-matrix.ts',
      "import { Queue } from 'bullmq';\nexport const q = Queue;\n",
    );
    expect(errors.join('\n')).toMatch(/bullmq/);
  });

  it('forbids a contract library from depending on an implementation library', async () => {
    const errors = await boundaryErrors(
      'libs/access-matrix/src/access-matrix.ts',
      "import { loadConfig } from '@lpi/service-bootstrap';\nexport const l = loadConfig;\n",
    );
    expect(errors.length).toBeGreaterThan(0);
  });

  it('allows what the constraints allow', async () => {
    const errors = await boundaryErrors(
      'libs/service-bootstrap/src/config.ts',
      "import { grantOf } from '@lpi/access-matrix';\nexport const g = grantOf;\n",
    );
    expect(errors).toEqual([]);
  });
});
