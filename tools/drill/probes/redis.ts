// Redis ACL: the service's user touches its own queues' keys and nothing else; BullMQ's
// own add into another queue is refused and leaves no key behind.
import {
  QUEUE_NAMES,
  bullQueueName,
  queueKey,
  queuesOf,
  type QueueName,
  type ServiceName,
} from '@lpi/access-matrix';
import { Queue } from 'bullmq';
import Redis, { Cluster } from 'ioredis';
import type { Loot } from '../loot';
import { allowed, denied, settle } from '../rows';
import type { Probe, ProbeContext } from './context';

/**
 * A connection as the service's Redis user with the looted password: to the one Redis, or
 * to the cluster (the attacker follows the slot map, as BullMQ does).
 */
export function connectAs(
  ctx: ProbeContext,
  l: Loot,
  password = l.secret.redis_password,
): Redis | Cluster {
  const options = { username: l.service, password, maxRetriesPerRequest: 1 };
  const { redis: single, redisCluster } = ctx.stack;
  const redis = redisCluster
    ? new Cluster(
        redisCluster.nodes.map((n) => ({ ...n })),
        { redisOptions: { ...options, disableClientInfo: true } },
      )
    : new Redis({ ...options, host: single.host, port: single.port, enableReadyCheck: false });
  redis.on('error', () => undefined);
  return redis;
}

/** The operator's view, to check what an attempt left behind. */
const adminOf = (ctx: ProbeContext): Redis | Cluster =>
  ctx.stack.redisCluster?.admin() ?? ctx.stack.redis.admin();

const movesMoney = (service: ServiceName, queue: QueueName) =>
  service === 'reporting-service' && (queue === 'payments' || queue === 'refunds');

async function enqueueIntoOthers(
  ctx: ProbeContext,
  service: ServiceName,
  redis: Redis | Cluster,
  queue: QueueName,
) {
  const row = ctx.rows.for(service, 'redis');
  const conn = redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
  conn.on('error', () => undefined);
  const q = new Queue(bullQueueName(queue), { connection: conn, skipVersionCheck: true });
  q.on('error', () => undefined);
  const admin = adminOf(ctx);
  try {
    const before = await admin.exists(queueKey(queue, 'drill-evil'));
    row(
      `enqueue into ${queue} (BullMQ add)`,
      'deny',
      await settle(() => q.add('evil', { x: 1 }, { jobId: 'drill-evil' })),
      movesMoney(service, queue),
    );
    const after = await admin.exists(queueKey(queue, 'drill-evil'));
    row(
      `nothing written to ${queue}`,
      'deny',
      after > before ? allowed('a job key appeared') : denied('no key written'),
    );
  } finally {
    await q.close();
    conn.disconnect();
  }
}

/**
 * Arbitrary Lua would let one service stall Redis for every other (`while true do end`):
 * running, loading or registering one's own script must be refused (fixed). Should the busy
 * loop run anyway, the admin kills it once Redis answers BUSY, and the row fails.
 */
async function ownLua(ctx: ProbeContext, service: ServiceName, redis: Redis | Cluster) {
  const row = ctx.rows.for(service, 'redis');
  const admin = adminOf(ctx);
  let answered = false;
  const killer = (async () => {
    while (!answered) {
      await new Promise((r) => setTimeout(r, 500));
      if (!answered) await admin.call('SCRIPT', 'KILL').catch(() => undefined);
    }
  })();
  const busy = await settle(() => redis.call('EVAL', 'while true do end', '0'));
  answered = true;
  await killer;
  row('EVAL "while true do end" 0 (stall Redis for everyone)', 'deny', busy, true);
  row(
    'SCRIPT LOAD of its own script',
    'deny',
    await settle(() => redis.call('SCRIPT', 'LOAD', 'return 1')),
    true,
  );
  row(
    'FUNCTION LOAD of its own library',
    'deny',
    await settle(() =>
      redis.call(
        'FUNCTION',
        'LOAD',
        "#!lua name=drill\nredis.register_function('drill', function() return 1 end)",
      ),
    ),
    true,
  );
}

export const redisProbe: Probe = async (ctx, service) => {
  const row = ctx.rows.for(service, 'redis');
  const redis = connectAs(ctx, ctx.loot[service]);
  try {
    for (const queue of QUEUE_NAMES) {
      const mine = queuesOf(service).includes(queue);
      const wait = queueKey(queue, 'wait');
      const probe = queueKey(queue, 'drill-probe');
      row(
        `read ${queue} (LLEN ${wait})`,
        mine ? 'allow' : 'deny',
        await settle(() => redis.llen(wait)),
      );
      row(
        `obliterate ${queue} (DEL ${probe})`,
        mine ? 'allow' : 'deny',
        await settle(() => redis.del(probe)),
      );
      if (!mine) await enqueueIntoOthers(ctx, service, redis, queue);
    }
    for (const cmd of [
      ['SCAN', '0'],
      ['KEYS', '*'],
      ['CONFIG', 'GET', 'requirepass'],
      ['FLUSHALL'],
      ['ACL', 'LIST'],
      ['CLIENT', 'LIST'],
    ]) {
      row(cmd.join(' '), 'deny', await settle(() => redis.call(cmd[0], ...cmd.slice(1))));
    }
    await ownLua(ctx, service, redis);
  } finally {
    redis.disconnect();
  }
};
