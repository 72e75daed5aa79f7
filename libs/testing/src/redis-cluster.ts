import { spawn } from 'node:child_process';
import Redis, { Cluster } from 'ioredis';
import { freePort, waitFor } from './ports';
import { startRedisServer, type RedisServer, type RedisServerOptions } from './redis-server';

export interface RedisClusterOptions {
  /** Masters (at least 3, as `redis-cli --cluster create` demands). */
  masters?: number;
  /** Replicas per master (default 0: a dead master's slots are down until it comes back). */
  replicasPerMaster?: number;
  /** The same ACL file on every node: users are per node in Redis Cluster. */
  acl: string;
  adminUser: { username: string; password: string };
  appendOnly?: boolean;
  /** Per node, after every start and restart (loading BullMQ's scripts into its cache). */
  afterStart?: RedisServerOptions['afterStart'];
  /** How long a node may be unreachable before the others call it failed (default 2 s). */
  nodeTimeoutMs?: number;
}

export interface RedisCluster {
  /** Seed nodes, as services take them (`REDIS_CLUSTER_NODES`). */
  readonly nodes: readonly { host: string; port: number }[];
  /** Each node's process (kill, restart: it rejoins with its own nodes.conf). */
  readonly servers: readonly RedisServer[];
  /** A cluster client as the admin user. Closed by stop(). */
  admin(): Cluster;
  /** The node serving a key's slot now (the one to kill to take a queue down). */
  serverOf(key: string): Promise<RedisServer>;
  /** Every node reports `cluster_state:ok`. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private Redis Cluster: one redis-server per node on free ports (client and bus port both
 * chosen, so no port+10000 clash), joined with `redis-cli --cluster create`, as the admin
 * user (its password passed in REDISCLI_AUTH, never on a command line).
 */
export async function startRedisCluster(options: RedisClusterOptions): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const count = masters * (1 + (options.replicasPerMaster ?? 0));
  const servers: RedisServer[] = [];
  const clients: Cluster[] = [];
  const stop = async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
  };
  try {
    for (let i = 0; i < count; i += 1) {
      servers.push(
        await startRedisServer({
          acl: options.acl,
          adminUser: options.adminUser,
          appendOnly: options.appendOnly,
          afterStart: options.afterStart,
          extraArgs: [
            '--cluster-enabled',
            'yes',
            '--cluster-config-file',
            'nodes.conf',
            '--cluster-port',
            String(await freePort()),
            '--cluster-node-timeout',
            String(options.nodeTimeoutMs ?? 2000),
            // the survivors keep serving their own slots while one master is down
            '--cluster-require-full-coverage',
            'no',
          ],
        }),
      );
    }
    await createCluster(servers, options.replicasPerMaster ?? 0, options.adminUser);
    const nodes = servers.map((s) => ({ host: s.host, port: s.port }));
    const admin = () => {
      const c = new Cluster(nodes, {
        redisOptions: {
          username: options.adminUser.username,
          password: options.adminUser.password,
          disableClientInfo: true,
        },
        clusterRetryStrategy: () => 200,
      });
      c.on('error', () => undefined);
      clients.push(c);
      return c;
    };
    const waitHealthy = (timeoutMs = 30_000) =>
      waitFor(
        'every Redis Cluster node to report cluster_state:ok',
        async () => {
          const states = await Promise.all(servers.map((s) => s.admin().cluster('INFO')));
          return states.every((i) => String(i).includes('cluster_state:ok')) ? true : undefined;
        },
        { timeoutMs, intervalMs: 200 },
      ).then(() => undefined);
    await waitHealthy();
    return {
      nodes,
      servers,
      admin,
      async serverOf(key) {
        const probe = servers[0].admin();
        const slot = Number(await probe.cluster('KEYSLOT', key));
        const shards = await probe.cluster('SLOTS');
        const owner = shards.find(([from, to]) => slot >= from && slot <= to);
        const server = servers.find((s) => s.port === owner?.[2]?.[1]);
        if (!server) throw new Error(`no node serves slot ${slot}`);
        return server;
      },
      waitHealthy,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function createCluster(
  servers: RedisServer[],
  replicas: number,
  adminUser: { username: string; password: string },
): Promise<void> {
  const args = [
    '--user',
    adminUser.username,
    '--cluster',
    'create',
    ...servers.map((s) => `${s.host}:${s.port}`),
    '--cluster-replicas',
    String(replicas),
    '--cluster-yes',
  ];
  const child = spawn('redis-cli', args, {
    env: { ...process.env, REDISCLI_AUTH: adminUser.password },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  if (code !== 0 || !output.includes('[OK] All 16384 slots covered'))
    throw new Error(`redis-cli --cluster create failed (exit ${code}): ${output.slice(-400)}`);
}

/** A plain connection to each master as the admin (per-node commands: KEYS, SCRIPT LOAD). */
export async function clusterMasters(cluster: RedisCluster): Promise<Redis[]> {
  const roles = await Promise.all(
    cluster.servers.map(async (s) => ({
      s,
      role: String(((await s.admin().role()) as unknown[])[0]),
    })),
  );
  return roles.filter((r) => r.role === 'master').map((r) => r.s.admin());
}
