// The whole local stack as processes: its own PostgreSQL cluster (migrated, grants from the
// matrix), its own redis-server, vault-dev (unless VAULT_ADDR is set), the provider sandbox,
// the bootstrap, and the four services, each with nothing but its own role-id and wrapped
// secret-id (its database login comes from Vault), and the declared callers logged in with
// their own Vault identities. Used by `npm run demo`, the end-to-end test, the drills and the bench.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SERVICE_NAMES, secretDataPathOf, type ServiceName } from '@lpi/access-matrix';
import { prepareDatabase } from '@lpi/database';
import { loadBullmqScripts, renderRedisAcl } from '@lpi/messaging';
import {
  createDevPki,
  freePort,
  recordIssued,
  runLogDir,
  startPostgresServer,
  startRedisCluster,
  startRedisServer,
  startSandbox,
  startTsProcess,
  startVaultDev,
  type DevPki,
  type PostgresServer,
  type RedisCluster,
  type RedisServer,
  type SandboxHandle,
  type ServiceRuntimeKind,
  type TsProcess,
  type VaultDevHandle,
} from '@lpi/testing';
import { runBootstrap, sandboxRegistrar } from '../bootstrap/bootstrap';
import { loginCallers, type Callers } from './callers';

export interface Stack {
  pki: DevPki;
  sandbox: SandboxHandle;
  vault: { addr: string; rootToken: string; dev?: VaultDevHandle };
  /** The Redis; with `redisCluster`, the cluster's first node (use `redisCluster` instead). */
  redis: RedisServer;
  /** Set when started with `redisCluster`: the services run on this Redis Cluster. */
  redisCluster?: RedisCluster;
  redisAdmin: { username: string; password: string };
  /** The merchant's record of money; `superuser` is the owner the one-shot step ran as. */
  postgres: PostgresServer;
  /** The password `lpi_vault_admin` (Vault's own database login) was given. */
  databaseAdminPassword: string;
  redisPasswords: Record<ServiceName, string>;
  services: Record<ServiceName, { url: string; process: TsProcess }>;
  /** checkout, support-console, finance-dashboard: each logged in with its own identity. */
  callers: Callers;
  dir: string;
  logFiles: string[];
  /** Another process of a service, with its own secret-id and port, on the same queues. */
  startReplica(service: ServiceName): Promise<{ url: string; process: TsProcess }>;
  /** SIGKILL a service, give it a fresh wrapped secret-id (single use), start it again. */
  crashAndRestart(service: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

export interface StackOptions {
  log?: (line: string) => void;
  rateLimitPerMinute?: number;
  tokenTtlSeconds?: number;
  /** BullMQ lock for the services (short in fault drills so crashed jobs come back fast). */
  queueLockMs?: number;
  /** Extra environment for every service (benchmarks: QUEUE_CONCURRENCY, ...). */
  serviceEnv?: Record<string, string>;
  /** Run the four services from their bundles (`bundle`) or their TypeScript (default). */
  serviceRuntime?: ServiceRuntimeKind;
  /** The services' database logins: lease TTL and max TTL (default 5 min and 1 h). */
  databaseLease?: { ttlSeconds: number; maxTtlSeconds: number };
  /** Run the queues on a Redis Cluster of this many masters instead of one Redis (ADR 0028). */
  redisCluster?: { masters: number };
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const log = options.log ?? (() => undefined);
  const dir = mkdtempSync(join(tmpdir(), 'lpi-stack-'));
  // under `npm test` the logs outlive the stack: the run-wide leak scan reads them at the end
  const runDir = runLogDir();
  const logDir = runDir ? mkdtempSync(join(runDir, 'stack-')) : dir;
  const logFiles: string[] = [];
  const logFile = (name: string) => {
    const f = join(logDir, `${name}.log`);
    logFiles.push(f);
    return f;
  };
  const started: { stop(): Promise<void> }[] = [];
  const stop = async () => {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
  };
  try {
    log('generate a throwaway PKI: CA, server certificate, one client certificate per service');
    const pki = await createDevPki(SERVICE_NAMES);
    const caFile = join(dir, 'ca.crt');
    writeFileSync(caFile, pki.caCert);

    log('start PostgreSQL (initdb in a temp dir), apply the migrations and the matrix grants');
    const postgres = await startPostgresServer();
    started.push(postgres);
    const databaseAdminPassword = randomBytes(24).toString('base64url');
    recordIssued([databaseAdminPassword, postgres.superuser.password]);
    await prepareDatabase(postgres.url(), { vaultAdminPassword: databaseAdminPassword });

    let vault: Stack['vault'];
    if (process.env.VAULT_ADDR && process.env.VAULT_TOKEN) {
      log(`use the Vault at VAULT_ADDR (${process.env.VAULT_ADDR})`);
      vault = { addr: process.env.VAULT_ADDR, rootToken: process.env.VAULT_TOKEN };
    } else {
      log('start vault-dev (VAULT_ADDR is not set)');
      const dev = await startVaultDev({ logFile: logFile('vault-dev') });
      started.push(dev);
      vault = { addr: dev.addr, rootToken: dev.rootToken, dev };
    }

    log('start the provider sandbox (authorization server + payments API, mTLS)');
    const sandbox = await startSandbox({
      pki,
      rateLimitPerMinute: options.rateLimitPerMinute ?? 300,
      tokenTtlSeconds: options.tokenTtlSeconds,
      logFile: logFile('provider-sandbox'),
    });
    started.push(sandbox);

    log(
      'bootstrap: policies, AppRoles, caller-token roles, provider clients, per-service secrets, wrapped secret-ids',
    );
    const outDir = join(dir, 'identities');
    const bootstrap = () =>
      runBootstrap({
        vaultAddr: vault.addr,
        vaultToken: vault.rootToken,
        registerClient: sandboxRegistrar(sandbox.apiBaseUrl, sandbox.adminToken, sandbox.caCert),
        clientCertificates: pki.clients as Record<ServiceName, { cert: string; key: string }>,
        outDir,
        database: {
          address: `${postgres.host}:${postgres.port}`,
          adminPassword: databaseAdminPassword,
          defaultTtlSeconds: options.databaseLease?.ttlSeconds,
          maxTtlSeconds: options.databaseLease?.maxTtlSeconds,
        },
      });
    const boot = await bootstrap();

    const redisAdmin = { username: 'ops-admin', password: randomBytes(24).toString('base64url') };
    recordIssued([redisAdmin.password]);
    const { redis, redisCluster } = await startRedis(options, boot.redisPasswords, redisAdmin, log);
    started.push(redisCluster ?? redis);
    const redisEnv: Record<string, string> = redisCluster
      ? { REDIS_CLUSTER_NODES: redisCluster.nodes.map((n) => `${n.host}:${n.port}`).join(',') }
      : { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(redis.port) };

    log('start the four services, each with only its own role-id and wrapped secret-id');
    const ports = Object.fromEntries(
      await Promise.all(SERVICE_NAMES.map(async (s) => [s, await freePort()] as const)),
    ) as Record<ServiceName, number>;
    const services = {} as Stack['services'];
    const replicas: Partial<Record<ServiceName, number>> = {};
    const startService = async (service: ServiceName, name: string, port: number) => {
      const url = `http://127.0.0.1:${port}`;
      const proc = await startTsProcess({
        name,
        entry: `apps/${service}/src/main.ts`,
        runtime: options.serviceRuntime,
        logFile: logFile(name),
        readyTimeoutMs: 120_000, // a loaded shared machine starts four Nest apps slowly
        env: {
          PORT: String(port),
          LOG_LEVEL: 'info',
          ...redisEnv,
          DATABASE_HOST: postgres.host,
          DATABASE_PORT: String(postgres.port),
          PROVIDER_ISSUER: sandbox.issuer,
          PROVIDER_API_URL: sandbox.apiBaseUrl,
          PROVIDER_AUDIENCE: sandbox.audience,
          PROVIDER_CA_FILE: caFile,
          PROVIDER_RATE_LIMIT_PER_MINUTE: String(options.rateLimitPerMinute ?? 300),
          VAULT_ADDR: vault.addr,
          VAULT_AUTH_METHOD: 'approle',
          VAULT_ROLE_ID_FILE: join(outDir, service, 'role-id'),
          VAULT_WRAPPED_SECRET_ID_FILE: join(outDir, service, 'wrapped-secret-id'),
          VAULT_SECRET_POLL_MS: '500',
          QUEUE_LOCK_MS: String(options.queueLockMs ?? 30_000),
          ...(service === 'webhook-service'
            ? { WEBHOOK_PUBLIC_URL: `${url}/webhooks/provider` }
            : {}),
          ...options.serviceEnv,
        },
        ready: async () =>
          (await fetch(`${url}/health/ready`).catch(() => undefined))?.status === 200,
      });
      started.push(proc);
      return { url, process: proc };
    };
    await Promise.all(
      SERVICE_NAMES.map(async (service) => {
        services[service] = await startService(service, service, ports[service]);
        log(`  ${service.padEnd(18)} ${services[service].url}`);
      }),
    );

    log('log the callers in, each with its own Vault identity');
    const callers = await loginCallers(
      vault.addr,
      boot.callerIdentities,
      Object.fromEntries(SERVICE_NAMES.map((s) => [s, services[s].url])) as Record<
        ServiceName,
        string
      >,
    );

    return {
      callers,
      pki,
      sandbox,
      vault,
      redis,
      redisCluster,
      redisAdmin,
      redisPasswords: boot.redisPasswords,
      postgres,
      databaseAdminPassword,
      services,
      dir,
      logFiles,
      async startReplica(service) {
        await bootstrap(); // idempotent; a fresh single-use wrapped secret-id for the replica
        replicas[service] = (replicas[service] ?? 1) + 1;
        return startService(service, `${service}-${replicas[service]}`, await freePort());
      },
      async crashAndRestart(service) {
        const proc = services[service].process;
        await proc.kill('SIGKILL');
        await bootstrap(); // idempotent; writes fresh wrapped secret-ids
        await proc.restart();
      },
      async stop() {
        await stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** One redis-server, or a Redis Cluster, with the ACL generated from the access matrix on each node. */
async function startRedis(
  options: StackOptions,
  passwords: Record<ServiceName, string>,
  admin: { username: string; password: string },
  log: (line: string) => void,
): Promise<{ redis: RedisServer; redisCluster?: RedisCluster }> {
  const acl = renderRedisAcl({ passwords, admin });
  // the operator step after every (re)start: services may only EVALSHA (ADR 0018)
  const afterStart = loadBullmqScripts;
  if (!options.redisCluster) {
    log('start redis-server with the ACL generated from the access matrix');
    const redis = await startRedisServer({ acl, adminUser: admin, appendOnly: true, afterStart });
    return { redis };
  }
  const { masters } = options.redisCluster;
  log(`start a Redis Cluster of ${masters} masters, the same ACL on every node`);
  const redisCluster = await startRedisCluster({
    masters,
    acl,
    adminUser: admin,
    appendOnly: true,
    afterStart,
  });
  return { redis: redisCluster.servers[0], redisCluster };
}

/**
 * Every secret a running stack holds, for specs that check a log, a page or a scrape leaks
 * none: the Vault root token, the sandbox's admin token, the Redis passwords, the database
 * owner's and Vault's database passwords, and from each
 * service's Vault secret its client secret, webhook secret and a line of each private key.
 */
export async function stackSecrets(stack: Stack): Promise<string[]> {
  const secrets = [
    stack.vault.rootToken,
    stack.sandbox.adminToken,
    stack.redisAdmin.password,
    stack.postgres.superuser.password,
    stack.databaseAdminPassword,
  ];
  secrets.push(...Object.values(stack.redisPasswords));
  for (const service of SERVICE_NAMES) {
    const res = await fetch(`${stack.vault.addr}/v1/${secretDataPathOf(service)}`, {
      headers: { 'x-vault-token': stack.vault.rootToken },
    });
    const data = ((await res.json()) as { data: { data: Record<string, string> } }).data.data;
    secrets.push(data.redis_password, data.client_key.split('\n')[1]);
    for (const optional of [data.client_secret, data.webhook_secret])
      if (optional) secrets.push(optional);
    if (data.client_assertion_key) secrets.push(data.client_assertion_key.split('\n')[1]);
  }
  return secrets;
}
