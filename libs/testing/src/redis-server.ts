import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { freePort, waitFor } from './ports';
import { logTail } from './run-logs';

export interface RedisServerOptions {
  /** Contents of an ACL file (`user ... on >pw ~keys +@cmds`). Written to the server's own dir. */
  acl?: string;
  /** Password of the `default` user when an ACL file disables it; needed for admin calls. */
  adminUser?: { username: string; password: string };
  /** Turn on the append-only file (survives a restart). */
  appendOnly?: boolean;
  port?: number;
  /**
   * Runs as the admin user after every start and restart, before the server is handed back:
   * the operator step that loads BullMQ's scripts into the empty cache (ADR 0018).
   */
  afterStart?: (admin: Redis) => Promise<unknown>;
  /** More redis-server arguments (startRedisCluster's `--cluster-enabled yes`, ...). */
  extraArgs?: readonly string[];
}

export interface RedisServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly url: string;
  /** An admin connection (the adminUser, or the default user). Closed by stop(). */
  admin(): Redis;
  /** SIGTERM + wait; the data dir survives so that restart() can reload the AOF. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** `afterStart: false` leaves out the afterStart step (a restart the operator missed). */
  restart(options?: { afterStart?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

const REDIS_BIN = 'redis-server';

export function assertRedisInstalled(): void {
  const probe = spawnSync(REDIS_BIN, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'redis-server was not found on PATH. Install the Debian package: `apt-get install redis-server`.',
    );
  }
}

/**
 * Starts a private redis-server on a free port with its own directory (and ACL file), for
 * one test file or one demo run. Never touches a Redis that happens to be running.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  assertRedisInstalled();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'lpi-redis-'));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    '--appendonly',
    options.appendOnly ? 'yes' : 'no',
    '--appendfsync',
    'always',
    '--maxmemory-policy',
    'noeviction',
    '--daemonize',
    'no',
    '--logfile',
    join(dir, 'redis.log'),
    '--acllog-max-len',
    '1024',
    // a script running longer than this makes every other client get BUSY (and lets an
    // admin SCRIPT KILL it) instead of waiting; Redis 7.0 knows it as busy-reply-threshold
    '--busy-reply-threshold',
    '1000',
    ...(options.extraArgs ?? []),
  ];
  if (options.acl !== undefined) {
    const aclFile = join(dir, 'users.acl');
    writeFileSync(aclFile, options.acl, { mode: 0o600 });
    args.push('--aclfile', aclFile);
  }

  let child: ChildProcess | undefined;
  const connections: Redis[] = [];
  const connectAdmin = () => {
    const conn = new Redis({
      host: '127.0.0.1',
      port,
      username: options.adminUser?.username,
      password: options.adminUser?.password,
      lazyConnect: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    conn.on('error', () => undefined);
    return conn;
  };

  const launch = async () => {
    child = spawn(REDIS_BIN, args, { stdio: 'ignore' });
    const exited = new Promise<never>((_, reject) =>
      child?.once('exit', (code) =>
        reject(
          new Error(`redis-server exited with code ${code}: ${logTail(join(dir, 'redis.log'), 2)}`),
        ),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([
      exited,
      waitFor(`redis-server on port ${port}`, async () => {
        const conn = connectAdmin();
        try {
          return (await conn.ping()) === 'PONG' ? true : undefined;
        } finally {
          conn.disconnect();
        }
      }),
    ]);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    for (const c of connections.splice(0)) c.disconnect();
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    await gone;
  };

  const runAfterStart = async () => {
    if (!options.afterStart) return;
    const conn = connectAdmin();
    try {
      await options.afterStart(conn);
    } finally {
      conn.disconnect();
    }
  };

  await launch();
  await runAfterStart();
  return {
    host: '127.0.0.1',
    port,
    dir,
    url: `redis://127.0.0.1:${port}`,
    admin() {
      const conn = connectAdmin();
      connections.push(conn);
      return conn;
    },
    kill,
    async restart({ afterStart = true } = {}) {
      await kill();
      await launch();
      if (afterStart) await runAfterStart();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
