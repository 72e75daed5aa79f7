import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_NAMES, type ServiceName } from '@lpi/access-matrix';
import { BULLMQ_SCRIPTS, renderRedisAcl } from '@lpi/messaging';
import { startRedisCluster, startRedisServer, waitFor, type RedisServer } from '@lpi/testing';

const pw = () => randomBytes(24).toString('base64url');
const passwords = Object.fromEntries(SERVICE_NAMES.map((s) => [s, pw()])) as Record<
  ServiceName,
  string
>;
const admin = { username: 'ops-admin', password: pw() };
const loader = { username: 'script-loader', password: pw() };
const dir = mkdtempSync(join(tmpdir(), 'lpi-loader-'));
let redis: RedisServer;
let child: ChildProcess | undefined;

beforeAll(async () => {
  redis = await startRedisServer({
    acl: renderRedisAcl({ passwords, admin, scriptLoader: loader }),
    adminUser: admin,
  });
  writeFileSync(join(dir, 'loader-password'), loader.password, { mode: 0o600 });
});
afterAll(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await redis.stop();
  rmSync(dir, { recursive: true, force: true });
});

const cached = async () =>
  (
    (await redis.admin().call('SCRIPT', 'EXISTS', ...BULLMQ_SCRIPTS.map((s) => s.sha))) as number[]
  ).filter((n) => n === 1).length;

const run = (...args: string[]) => runWith({ REDIS_PORT: String(redis.port) }, ...args);

const runWith = (env: Record<string, string>, ...args: string[]) => {
  const proc = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, 'load-scripts.ts'), ...args],
    {
      cwd: join(__dirname, '..', '..'),
      env: {
        ...process.env,
        ...env,
        REDIS_LOADER_PASSWORD_FILE: join(dir, 'loader-password'),
        REDIS_LOADER_INTERVAL_MS: '200',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const out = { text: '' };
  proc.stdout?.on('data', (d) => (out.text += String(d)));
  proc.stderr?.on('data', (d) => (out.text += String(d)));
  return { proc, out };
};

describe('npm run redis:load-scripts', () => {
  it('loads every BullMQ script as the loader user, and with --watch again after each restart', async () => {
    expect(await cached()).toBe(0);
    const first = run();
    const code = await new Promise((r) => first.proc.once('exit', r));
    expect({ code, out: first.out.text }).toEqual({
      code: 0,
      out: expect.stringContaining(`loaded ${BULLMQ_SCRIPTS.length} of ${BULLMQ_SCRIPTS.length}`),
    });
    expect(await cached()).toBe(BULLMQ_SCRIPTS.length);

    const watcher = run('--watch');
    child = watcher.proc;
    await waitFor('the watcher to start', async () =>
      watcher.out.text.includes('watching') ? true : undefined,
    );
    await redis.restart();
    // the cache refilled and the watcher said so (its line may arrive after the last script)
    await waitFor(
      'the watcher to reload the emptied cache',
      async () =>
        (await cached()) === BULLMQ_SCRIPTS.length &&
        watcher.out.text.includes(`loaded ${BULLMQ_SCRIPTS.length} of`)
          ? true
          : undefined,
      { timeoutMs: 30_000 },
    );
    // nothing the loader did was refused
    expect(await redis.admin().call('ACL', 'LOG')).toEqual([]);
    child.kill('SIGTERM');
    expect(await new Promise((r) => watcher.proc.once('exit', r))).toBe(0);
    // and its output holds no secret
    expect(first.out.text + watcher.out.text).not.toContain(loader.password);
  });
});

describe('npm run redis:load-scripts on a Redis Cluster', () => {
  it('loads every BullMQ script into every master, as the loader user', async () => {
    const cluster = await startRedisCluster({
      acl: renderRedisAcl({ passwords, admin, scriptLoader: loader }),
      adminUser: admin,
    });
    try {
      const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',');
      const once = runWith({ REDIS_CLUSTER_NODES: nodes });
      const code = await new Promise((r) => once.proc.once('exit', r));
      const total = BULLMQ_SCRIPTS.length * cluster.servers.length;
      expect({ code, out: once.out.text }).toEqual({
        code: 0,
        out: expect.stringContaining(
          `loaded ${total} of ${total} BullMQ scripts into every master`,
        ),
      });
      for (const server of cluster.servers) {
        const present = (await server
          .admin()
          .call('SCRIPT', 'EXISTS', ...BULLMQ_SCRIPTS.map((s) => s.sha))) as number[];
        expect({ port: server.port, cached: present.filter((n) => n === 1).length }).toEqual({
          port: server.port,
          cached: BULLMQ_SCRIPTS.length,
        });
        expect(await server.admin().call('ACL', 'LOG')).toEqual([]);
      }
    } finally {
      await cluster.stop();
    }
  });
});
