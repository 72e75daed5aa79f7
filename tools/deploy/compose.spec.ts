import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { SERVICE_NAMES, grantOf } from '@lpi/access-matrix';
import { BUNDLE_ENV } from '@lpi/testing';
import composeSchema from './compose-subset.schema.json';
import { REPO_ROOT } from './render';

interface ComposeVolume {
  type: string;
  source?: string;
  target: string;
  read_only?: boolean;
  volume?: { subpath?: string };
}
interface ComposeService {
  image?: string;
  command?: string | string[];
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  environment?: Record<string, string>;
  volumes?: ComposeVolume[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

const execFileAsync = promisify(execFile);

const COMMON_ENV = [
  'PORT',
  'HOST',
  'LOG_LEVEL',
  'VAULT_ADDR',
  'VAULT_AUTH_METHOD',
  'VAULT_ROLE_ID_FILE',
  'VAULT_WRAPPED_SECRET_ID_FILE',
  'REDIS_HOST',
  'REDIS_PORT',
  'PROVIDER_ISSUER',
  'PROVIDER_API_URL',
  'PROVIDER_AUDIENCE',
  'PROVIDER_CA_FILE',
];
const SECRET_LIKE = /secret|password|token|private|-----BEGIN/i;

const validateCompose = new Ajv({
  strict: true,
  strictRequired: false,
  strictTuples: false,
  allowUnionTypes: true,
  allErrors: true,
}).compile(composeSchema);
const raw = parse(readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8'), {
  merge: true,
}) as ComposeFile;

describe('docker-compose.yml', () => {
  it('validates against the Compose subset schema', () => {
    const valid = validateCompose(raw);
    expect(validateCompose.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema is strict: an unknown service key or a bad depends_on condition fails', () => {
    const typo = structuredClone(raw);
    (typo.services['redis'] as Record<string, unknown>)['enviroment'] = {};
    expect(validateCompose(typo)).toBe(false);
    const badCondition = structuredClone(raw);
    (badCondition.services['redis'] as ComposeService).depends_on = {
      bootstrap: { condition: 'done' },
    };
    expect(validateCompose(badCondition)).toBe(false);
  });

  it('runs Redis 7 with appendonly, noeviction and the generated ACL file', () => {
    const redis = raw.services['redis'] as ComposeService;
    expect(redis.image).toBe('redis:7');
    const command = (redis.command as string[]).join(' ');
    expect(command).toContain('--appendonly yes');
    expect(command).toContain('--maxmemory-policy noeviction');
    expect(command).toContain('--aclfile /etc/redis/acl/users.acl');
    expect(redis.depends_on?.['bootstrap']?.condition).toBe('service_completed_successfully');
  });

  it('runs real Vault in dev mode and the bootstrap as a one-shot', () => {
    expect(raw.services['vault']?.image).toMatch(/^hashicorp\/vault(:|$)/);
    expect(JSON.stringify(raw.services['vault']?.command)).toContain('server -dev');
    expect(JSON.stringify(raw.services['bootstrap']?.command)).toContain(
      'tools/bootstrap/bootstrap.ts',
    );
  });

  it.each(SERVICE_NAMES)('%s sees only its own identity, environment and volumes', (service) => {
    const entry = raw.services[service] as ComposeService;
    expect(entry).toBeDefined();
    const env = entry.environment ?? {};
    const expectedEnv =
      service === 'webhook-service' ? [...COMMON_ENV, 'WEBHOOK_PUBLIC_URL'] : COMMON_ENV;
    expect(Object.keys(env).sort()).toEqual([...expectedEnv].sort());
    expect(env['PORT']).toBe(String(grantOf(service).http.port));
    expect(env['VAULT_AUTH_METHOD']).toBe('approle');
    for (const [name, value] of Object.entries(env))
      expect({ name, secretLike: SECRET_LIKE.test(value) && !name.endsWith('_FILE') }).toEqual({
        name,
        secretLike: false,
      });
    for (const other of SERVICE_NAMES.filter((s) => s !== service))
      expect(JSON.stringify(entry)).not.toContain(other);

    const volumes = entry.volumes ?? [];
    expect(volumes.every((v) => v.read_only === true && v.type === 'volume')).toBe(true);
    const identity = volumes.filter((v) => v.source === 'bootstrap');
    expect(identity).toEqual([
      {
        type: 'volume',
        source: 'bootstrap',
        target: '/run/lpi/vault',
        read_only: true,
        volume: { subpath: service },
      },
    ]);
    expect(env['VAULT_ROLE_ID_FILE']).toBe('/run/lpi/vault/role-id');
    expect(env['VAULT_WRAPPED_SECRET_ID_FILE']).toBe('/run/lpi/vault/wrapped-secret-id');
    // The PKI volume holds every key; a service sees only the CA certificate under trust/.
    const pki = volumes.filter((v) => v.source === 'pki');
    expect(pki.map((v) => v.volume?.subpath)).toEqual(['trust']);
  });

  it.each(SERVICE_NAMES)(
    '%s runs non-root, read-only, no capabilities, health-gated',
    (service) => {
      const entry = raw.services[service] as ComposeService;
      expect(entry.user).toBe('10001:10001');
      expect(entry.read_only).toBe(true);
      expect(entry.cap_drop).toEqual(['ALL']);
      expect(JSON.stringify(entry.healthcheck?.test)).toContain('/health/ready');
      expect(entry.depends_on).toEqual({
        bootstrap: { condition: 'service_completed_successfully' },
        redis: { condition: 'service_healthy' },
        vault: { condition: 'service_healthy' },
        'provider-sandbox': { condition: 'service_healthy' },
      });
    },
  );

  it('every service the matrix names has a compose entry, and no unknown app is present', () => {
    const infrastructure = ['pki', 'vault', 'provider-sandbox', 'bootstrap', 'redis'];
    expect(Object.keys(raw.services).sort()).toEqual([...infrastructure, ...SERVICE_NAMES].sort());
  });

  it('the compose file and the Dockerfile contain no secret material', () => {
    for (const file of ['docker-compose.yml', 'deploy/docker/service.Dockerfile']) {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      expect(text).not.toMatch(/-----BEGIN|hvs\.|s\.[A-Za-z0-9]{24}/);
      // A value that is not a path or a `$(cat file)` read is a literal secret.
      expect(text).not.toMatch(/(PASSWORD|SECRET|TOKEN)\w*\s*[:=]\s*["']?[A-Za-z0-9+]{16,}/);
    }
  });

  it('the service image is the bundle alone, run by plain node as a non-root user', () => {
    const dockerfile = readFileSync(join(REPO_ROOT, 'deploy/docker/service.Dockerfile'), 'utf8');
    const stages = dockerfile.split(/^(?=FROM )/m).filter((s) => s.startsWith('FROM '));
    const runtime = stages[stages.length - 1];
    expect(runtime).toMatch(/^FROM \$\{NODE_IMAGE\} AS runtime/);
    expect(runtime).toMatch(/^COPY --from=bundle /m);
    expect(runtime).toMatch(/^USER 10001:10001$/m);
    expect(runtime).toContain('CMD ["node", "main.js"]');
    expect(runtime).not.toMatch(/swc|typescript|libs|tsconfig|npm /);
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24-/m);
    // the image runs a bundle the way the local stack's bundle runtime does
    for (const [k, v] of Object.entries(BUNDLE_ENV)) expect(runtime).toContain(` ${k}=${v}`);
    expect(dockerfile).toMatch(/nx run "\$\{APP\}:build"/);
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '**/*.key', '**/*.pem'])
      expect(ignored).toContain(entry);
  });
});

describe('compose-pki one-shot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lpi-compose-pki-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the PKI and run-time tokens once, and a trust/ directory with no key', async () => {
    const run = () =>
      execFileAsync(
        process.execPath,
        ['-r', '@swc-node/register', join(__dirname, 'compose-pki.ts'), dir],
        {
          cwd: REPO_ROOT,
        },
      );
    await run();
    expect(readdirSync(join(dir, 'trust'))).toEqual(['ca.crt']);
    for (const service of SERVICE_NAMES)
      expect(statSync(join(dir, `${service}.key`)).mode & 0o077).toBe(0);
    const token = readFileSync(join(dir, 'vault-root-token'), 'utf8');
    expect(token.length).toBeGreaterThanOrEqual(32);
    await run();
    expect(readFileSync(join(dir, 'vault-root-token'), 'utf8')).toBe(token);
  });
});
