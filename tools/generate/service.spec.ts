import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GenerateError, generateService, validateNewService } from './service';

const ROOT = join(__dirname, '..', '..');

describe('generate:service refuses a grant the matrix would not hold', () => {
  it.each([
    [{ name: 'Ledger', scopes: ['payments:read'] }, /kebab-case and end in -service/],
    [{ name: 'payment-service', scopes: ['payments:read'] }, /already exists/],
    [{ name: 'ledger-service' }, /name its provider scopes/],
    [{ name: 'ledger-service', scopes: ['payments:everything'] }, /unknown scope/],
    [{ name: 'ledger-service', scopes: ['transactions:read'] }, /held by reporting-service/],
    [{ name: 'ledger-service', newScopes: ['payments:read'] }, /must be a new/],
    [
      { name: 'ledger-service', newScopes: ['ledger:read'], consumes: ['payments'] },
      /payment-service/,
    ],
    [{ name: 'ledger-service', newScopes: ['ledger:read'], produces: ['ledger'] }, /unknown queue/],
    [{ name: 'ledger-service', newScopes: ['ledger:read'], port: 3101 }, /port 3101 is taken/],
    [{ name: 'ledger-service', newScopes: ['ledger:read'], auth: 'none' }, /--auth must be/],
  ])('%j', (input, message) => {
    expect(() => validateNewService(input)).toThrow(GenerateError);
    expect(() => validateNewService(input)).toThrow(message);
  });

  it('grants nothing it was not asked for', () => {
    const s = validateNewService({ name: 'ledger-service', newScopes: ['ledger:read'] });
    expect(s).toMatchObject({
      scopes: [],
      produces: [],
      consumes: [],
      port: 3105,
      auth: 'client_secret_basic',
    });
  });
});

// On a copy of the repository: generate a service, then hold it to what holds the four
// others: the type-check, the module boundaries, the matrix, Vault policy, compose and
// Kubernetes specs, and the breach drill, which starts it in a full stack as its own Vault
// role, provider client and Redis user and tries every grant in both directions.
describe('a generated service, on a copy of the repository', () => {
  let copy: string;
  /** Runs a command in the copy; its stdout and stderr, or a throw naming its exit code. */
  const run = (cmd: string, args: string[]) => {
    const r = spawnSync(cmd, args, {
      cwd: copy,
      encoding: 'utf8',
      env: { ...process.env, NX_DAEMON: 'false', FORCE_COLOR: '0' },
      maxBuffer: 64 * 1024 * 1024,
    });
    const output = `${r.stdout}\n${r.stderr}`;
    if (r.status !== 0)
      throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${output.slice(-4000)}`);
    return output;
  };

  beforeAll(() => {
    copy = mkdtempSync(join(tmpdir(), 'lpi-generate-'));
    const files = execFileSync('git', ['ls-files', '-z', '-co', '--exclude-standard'], {
      cwd: ROOT,
      encoding: 'utf8',
    })
      .split('\0')
      .filter(Boolean);
    for (const f of files) cpSync(join(ROOT, f), join(copy, f), { force: true });
    symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
    generateService(
      copy,
      [
        'ledger-service',
        '--new-scopes',
        'ledger:read',
        '--purpose',
        'keeps a ledger',
        '--auth',
        'private_key_jwt',
      ],
      () => undefined,
    );
  }, 120_000);
  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it('is declared in the matrix with exactly the scope asked for', () => {
    const matrix = readFileSync(join(copy, 'libs/access-matrix/src/access-matrix.ts'), 'utf8');
    expect(matrix).toContain("scopes: ['ledger:read'],");
    expect(matrix).toContain("tokenEndpointAuthMethod: 'private_key_jwt',");
    expect(matrix).toContain('queues: { produces: [], consumes: [] },');
    expect(readFileSync(join(copy, 'deploy/vault/policies/ledger-service.hcl'), 'utf8')).toContain(
      'secret/data/ledger-service',
    );
  });

  it('type-checks and keeps to its module boundary', () => {
    run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
    run('npx', ['nx', 'show', 'projects']);
    run('npx', ['eslint', '--max-warnings=0', 'apps/ledger-service', 'tools/generate']);
  }, 180_000);

  it('has the targets every app has, and its bundle builds', () => {
    const project = JSON.parse(run('npx', ['nx', 'show', 'project', 'ledger-service', '--json']));
    expect(Object.keys(project.targets).sort()).toEqual(['build', 'lint', 'serve', 'test']);
    run('npx', ['nx', 'run', 'ledger-service:build', '--skip-nx-cache', '--outputStyle=static']);
    expect(readFileSync(join(copy, 'dist/apps/ledger-service/main.js'), 'utf8')).toContain(
      'ledger-service',
    );
  }, 300_000);

  it('passes the matrix, Vault policy, API description, compose and Kubernetes specs', () => {
    const out = run('npx', [
      'jest',
      '--ci',
      '--verbose',
      'libs/access-matrix',
      'tools/deploy',
      'tools/generate/vault-policies.spec.ts',
      'tools/generate/openapi.spec.ts',
    ]);
    expect(out).toMatch(/Tests: +\d+ passed, \d+ total/);
    expect(out).toContain('ledger-service sees only its own identity');
  }, 180_000);

  it('boots in a full stack, and the breach drill holds in both directions', () => {
    const out = run('node', ['-r', '@swc-node/register', 'tools/drill/drill.ts']);
    const rows = out.split('\n').filter((l) => l.startsWith('ledger-service '));
    expect(rows.length).toBeGreaterThan(20);
    expect(rows.filter((l) => /✗/.test(l))).toEqual([]);
    expect(out).toMatch(/ledger-service +oauth +token with ledger:read +allow +allowed \(200\)/);
    expect(out).toMatch(/payment-service +vault +read secret\/data\/ledger-service +deny/);
  }, 180_000);
});
