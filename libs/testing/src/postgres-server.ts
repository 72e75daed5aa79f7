import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chownSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freePort, waitFor } from './ports';
import { logTail } from './run-logs';

export interface PostgresServerOptions {
  port?: number;
  /** The database created after the first start (default `lpi`). */
  database?: string;
  /** Serve TLS with this certificate and key (PEM); plain TCP is still accepted. */
  tls?: { cert: string; key: string };
}

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly dir: string;
  readonly database: string;
  /** The cluster's superuser (scram-sha-256 over TCP); generated per cluster. */
  readonly superuser: { username: string; password: string };
  /** `postgres://user:password@127.0.0.1:port/db` for the superuser. */
  url(database?: string): string;
  /** A connected superuser client; closed by stop(). */
  admin(database?: string): Promise<Client>;
  /** Fast shutdown (SIGINT) or a crash (SIGKILL); the data directory survives. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const SUPERUSER = 'lpi_superuser';

/** The directory holding initdb and postgres: LPI_PG_BIN, Debian's layout, or PATH. */
export function postgresBinDir(): string {
  const configured = process.env['LPI_PG_BIN'];
  if (configured) return configured;
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(debian, versions[0], 'bin');
  }
  const probe = spawnSync('sh', ['-c', 'command -v initdb'], { encoding: 'utf8' });
  const found = probe.stdout.trim();
  if (probe.status === 0 && found) return found.replace(/\/initdb$/, '');
  throw new Error(
    'PostgreSQL server binaries (initdb, postgres) were not found. Install the Debian package: `apt-get install postgresql` (or set LPI_PG_BIN to their directory).',
  );
}

/** PostgreSQL refuses to run as root: as root, the cluster belongs to the `postgres` user. */
function runAs(): { uid: number; gid: number } | undefined {
  if (userInfo().uid !== 0) return undefined;
  const id = (flag: string) => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  const uid = id('-u');
  const gid = id('-g');
  if (uid.status !== 0 || gid.status !== 0)
    throw new Error(
      'running as root, PostgreSQL needs an unprivileged `postgres` user (the Debian package creates it)',
    );
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * Starts a private PostgreSQL cluster (initdb in a temp directory, its own port, unix socket
 * in that directory) for one test file or one demo run. Never touches a server that happens
 * to be running. Durability settings are the defaults except fsync (the machine does not
 * crash in a test; a killed server still replays its WAL).
 */
export async function startPostgresServer(
  options: PostgresServerOptions = {},
): Promise<PostgresServer> {
  const bin = postgresBinDir();
  const owner = runAs();
  const port = options.port ?? (await freePort());
  const database = options.database ?? 'lpi';
  const dir = mkdtempSync(join(tmpdir(), 'lpi-postgres-'));
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const password = randomBytes(18).toString('base64url');
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (owner) chownSync(pwfile, owner.uid, owner.gid);
  const init = spawnSync(
    join(bin, 'initdb'),
    ['-D', data, '-U', SUPERUSER, '--pwfile', pwfile, '--auth=scram-sha-256', '-E', 'UTF8'],
    { encoding: 'utf8', ...owner, env: { ...process.env, LC_ALL: 'C' } },
  );
  rmSync(pwfile, { force: true });
  if (init.status !== 0)
    throw new Error(`initdb failed: ${(init.stderr || init.stdout).trim().split('\n').pop()}`);

  const tlsArgs: string[] = [];
  if (options.tls) {
    for (const [name, pem] of [
      ['server.crt', options.tls.cert],
      ['server.key', options.tls.key],
    ] as const) {
      // PostgreSQL refuses a key file others can read
      writeFileSync(join(dir, name), pem, { mode: 0o600 });
      if (owner) chownSync(join(dir, name), owner.uid, owner.gid);
    }
    tlsArgs.push(
      '-c',
      'ssl=on',
      '-c',
      `ssl_cert_file=${join(dir, 'server.crt')}`,
      '-c',
      `ssl_key_file=${join(dir, 'server.key')}`,
    );
  }
  const logFile = join(dir, 'postgres.log');
  let child: ChildProcess | undefined;
  const clients: Client[] = [];
  const url = (db = database) =>
    `postgres://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${db}`;
  const connect = async (db: string) => {
    const client = new Client({ connectionString: url(db), connectionTimeoutMillis: 2000 });
    client.on('error', () => undefined);
    await client.connect();
    return client;
  };

  const launch = async () => {
    const log = openSync(logFile, 'a');
    if (owner) chownSync(logFile, owner.uid, owner.gid);
    child = spawn(
      join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=off',
        '-c',
        'max_connections=200',
        ...tlsArgs,
      ],
      // its own process group: a crash (SIGKILL) takes the backends with the postmaster
      { stdio: ['ignore', log, log], detached: true, ...owner },
    );
    closeSync(log);
    const exited = new Promise<never>((_, reject) =>
      child?.once('exit', (code) =>
        reject(new Error(`postgres exited with code ${code}: ${logTail(logFile, 3)}`)),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([
      exited,
      waitFor(`postgres on port ${port}`, async () => {
        const c = await connect('postgres');
        await c.end();
        return true;
      }),
    ]);
  };

  const kill = async (signal: NodeJS.Signals = 'SIGINT') => {
    for (const c of clients.splice(0)) await c.end().catch(() => undefined);
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    if (signal === 'SIGKILL' && proc.pid) process.kill(-proc.pid, 'SIGKILL');
    else proc.kill(signal);
    await gone;
  };

  await launch();
  const setup = await connect('postgres');
  try {
    await setup.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`);
  } finally {
    await setup.end();
  }

  return {
    host: '127.0.0.1',
    port,
    dir,
    database,
    superuser: { username: SUPERUSER, password },
    url,
    async admin(db = database) {
      const c = await connect(db);
      clients.push(c);
      return c;
    },
    kill,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
