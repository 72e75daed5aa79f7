import { createHash } from 'node:crypto';
import { SERVICE_NAMES, type ServiceName, queueKeyPattern, queuesOf } from '@lpi/access-matrix';

/**
 * Everything BullMQ sends as a client or from inside its Lua scripts (Redis 7 checks both),
 * verified by the ACL conformance test in this lib. Scripts run by EVALSHA only, so a service
 * runs nothing but the BullMQ scripts an operator loaded (ADR 0018). Deliberately absent:
 * EVAL, EVAL_RO, SCRIPT, FUNCTION, FCALL, SCAN, KEYS, RANDOMKEY, DBSIZE, FLUSH*, CONFIG, DEBUG,
 * MONITOR, SLOWLOG, CLIENT (but SETNAME; the connections send no CLIENT SETINFO), SELECT,
 * pub/sub. On a Redis Cluster the client also asks for the slot map and the cluster's state
 * and follows ASK redirects (ADR 0028); on a single Redis those three are harmless.
 */
export const BULLMQ_COMMANDS = [
  'ping',
  'quit',
  'info',
  'client|setname',
  'cluster|slots',
  'cluster|info',
  'asking',
  'bzpopmin',
  'xread',
  'evalsha',
  'multi',
  'exec',
  'del',
  'exists',
  'get',
  'set',
  'incr',
  'pexpire',
  'persist',
  'pttl',
  'rename',
  'type',
  'hdel',
  'hexists',
  'hget',
  'hgetall',
  'hincrby',
  'hlen',
  'hmget',
  'hmset',
  'hset',
  'hscan',
  'lindex',
  'llen',
  'lpop',
  'lpos',
  'lpush',
  'lrange',
  'lrem',
  'lset',
  'ltrim',
  'rpop',
  'rpoplpush',
  'rpush',
  'sadd',
  'scard',
  'sismember',
  'smembers',
  'srem',
  'sscan',
  'xadd',
  'xtrim',
  'zadd',
  'zcard',
  'zcount',
  'zpopmin',
  'zrange',
  'zrangebyscore',
  'zrem',
  'zremrangebyrank',
  'zremrangebyscore',
  'zrevrange',
  'zrevrangebyscore',
  'zscore',
] as const;

export interface RedisAclOptions {
  /** One password per service; only their SHA-256 lands in the file. */
  passwords: Readonly<Record<ServiceName, string>>;
  /** An operator user with full rights (tests, the demo's checks). Omit in production. */
  admin?: { username: string; password: string };
  /**
   * The operator step's user (`npm run redis:load-scripts`): it may only load scripts into
   * the cache and ask which are there. Production runs the loader as this user, not as admin.
   */
  scriptLoader?: { username: string; password: string };
  prefix?: string;
}

/**
 * What the script loader needs, and nothing else: no keys, no EVAL. On a cluster ioredis
 * also reads the slot map, over a connection it names (`CLIENT SETNAME`).
 */
export const SCRIPT_LOADER_COMMANDS = [
  'ping',
  'script|load',
  'script|exists',
  'cluster|slots',
  'client|setname',
] as const;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** One ACL line per service: its own queues' keys, the BullMQ command allow-list, nothing else. */
export function aclLineFor(service: ServiceName, passwordSha256: string, prefix = 'bull'): string {
  const keys = queuesOf(service).map((q) => `~${queueKeyPattern(q, prefix)}`);
  return [
    `user ${service} on #${passwordSha256}`,
    'resetkeys resetchannels',
    ...keys,
    '-@all',
    ...BULLMQ_COMMANDS.map((c) => `+${c}`),
  ].join(' ');
}

/**
 * The default user is disabled and has no password, so no connection can ever authenticate
 * as it. Its permissions are nevertheless full, because the server's own AOF-loading client
 * runs as `default`, and Redis releases without redis/redis#14545 (7.0.15 here) re-check
 * those permissions at every EXEC while replaying the AOF. BullMQ's Lua scripts are logged
 * as MULTI/EXEC blocks, so with `-@all` here every queued job is silently dropped on restart.
 * A test in messaging.spec.ts restarts Redis under this file to hold that line (ADR 0009).
 */
export const DEFAULT_USER_LINE = 'user default off resetpass ~* &* +@all';

/** The users.acl file for Redis, generated from the access matrix. Holds no plaintext secret. */
export function renderRedisAcl({
  passwords,
  admin,
  scriptLoader,
  prefix = 'bull',
}: RedisAclOptions): string {
  // Redis ACL files accept no comments: the first line is already a user
  const lines = [DEFAULT_USER_LINE];
  if (admin) lines.push(`user ${admin.username} on #${sha256(admin.password)} ~* &* +@all`);
  if (scriptLoader)
    lines.push(
      [
        `user ${scriptLoader.username} on #${sha256(scriptLoader.password)}`,
        'resetkeys resetchannels -@all',
        ...SCRIPT_LOADER_COMMANDS.map((c) => `+${c}`),
      ].join(' '),
    );
  for (const service of SERVICE_NAMES)
    lines.push(aclLineFor(service, sha256(passwords[service]), prefix));
  return `${lines.join('\n')}\n`;
}
