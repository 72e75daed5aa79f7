// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- an app build compiles its own src/** only: the ambient declaration must come with this file
/// <reference path="./bullmq-scripts.d.ts" />
import { createHash } from 'node:crypto';
import * as bullmqScripts from 'bullmq/dist/cjs/scripts';
import Redis, {
  Cluster,
  Command,
  type ClusterNode,
  type ClusterOptions,
  type RedisOptions,
} from 'ioredis';

export interface LuaScript {
  name: string;
  sha: string;
  lua: string;
}

/**
 * BullMQ's Lua scripts, read from BullMQ's own package: exactly the sources its connections
 * define through ioredis `defineCommand`, so their SHA1s are the ones services EVALSHA.
 */
export const BULLMQ_SCRIPTS: readonly LuaScript[] = Object.values(bullmqScripts)
  .map(({ name, content }) => ({
    name,
    lua: content,
    sha: createHash('sha1').update(content).digest('hex'),
  }))
  .sort((a, b) => a.name.localeCompare(b.name));

type ScriptHolder = { Command: typeof Command };

/**
 * ioredis' Script builds each call with its own Command subclass (the EVAL fallback); the
 * plain Command sends what Script.execute asks for: EVALSHA <sha> <numkeys> ...
 */
function sendByEvalshaOnly(scriptsSet: unknown, name: string): void {
  (scriptsSet as Record<string, ScriptHolder>)[name].Command = Command;
}

/**
 * An ioredis client that runs defined scripts with EVALSHA only. Stock ioredis 6 sends the
 * full source with EVAL as the first call of each script on every socket, and again after
 * a NOSCRIPT; the services' ACL users may not run EVAL (issue 16, ADR 0018). Here a missing
 * script surfaces as a NOSCRIPT error instead, which `isRedisUnavailable` counts as "Redis not
 * ready": an operator step (`npm run redis:load-scripts`) puts the scripts in the cache.
 * `duplicate()` (BullMQ's blocking and event connections) keeps the behaviour.
 */
export class EvalshaOnlyRedis extends Redis {
  override defineCommand(
    name: string,
    definition: { lua: string; numberOfKeys?: number; readOnly?: boolean },
  ): void {
    super.defineCommand(name, definition);
    sendByEvalshaOnly(this.scriptsSet, name);
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    // ioredis' own duplicate() does the same spread, but into the base class
    return new EvalshaOnlyRedis({ ...this.options, ...override, replyMapping: 'legacy' });
  }
}

/**
 * The same for a Redis Cluster: ioredis routes each EVALSHA to the master of its first key's
 * slot, so every master needs the scripts in its cache (`loadBullmqScriptsOnCluster`).
 */
type LegacyClusterOptions = ClusterOptions & {
  redisOptions?: ClusterOptions['redisOptions'] & { replyMapping?: 'legacy' };
};

export class EvalshaOnlyCluster extends Cluster {
  constructor(
    private readonly seeds: ClusterNode[],
    options: ClusterOptions = {},
  ) {
    super(seeds, {
      ...options,
      redisOptions: { ...options.redisOptions, replyMapping: 'legacy' },
    } as LegacyClusterOptions);
  }

  override defineCommand(
    name: string,
    definition: { lua: string; numberOfKeys?: number; readOnly?: boolean },
  ): void {
    super.defineCommand(name, definition);
    sendByEvalshaOnly(this.scriptsSet, name);
  }

  override duplicate(overrideStartupNodes: ClusterNode[] = [], override?: ClusterOptions): Cluster {
    const nodes = overrideStartupNodes.length > 0 ? overrideStartupNodes : this.seeds;
    return new EvalshaOnlyCluster(nodes, { ...this.options, ...override });
  }
}

export interface ScriptLoadResult {
  /** Scripts that were missing from the server's cache and have now been loaded. */
  loaded: number;
  total: number;
}

/**
 * The operator step: SCRIPT LOAD every BullMQ script the server's cache lacks (after a start
 * or a restart the cache is empty). Needs a user with `script|load` and `script|exists`.
 */
export async function loadBullmqScripts(admin: Redis): Promise<ScriptLoadResult> {
  const present = (await admin.call(
    'SCRIPT',
    'EXISTS',
    ...BULLMQ_SCRIPTS.map((s) => s.sha),
  )) as number[];
  const missing = BULLMQ_SCRIPTS.filter((_, i) => present[i] !== 1);
  for (const script of missing) {
    const sha = await admin.call('SCRIPT', 'LOAD', script.lua);
    if (sha !== script.sha)
      throw new Error(`SCRIPT LOAD of ${script.name} returned ${String(sha)}, not ${script.sha}`);
  }
  return { loaded: missing.length, total: BULLMQ_SCRIPTS.length };
}

/**
 * The operator step on a Redis Cluster: every master has its own script cache, so load on
 * each (a replica promoted later has an empty cache too: the watching loader reloads it).
 */
export async function loadBullmqScriptsOnCluster(cluster: Cluster): Promise<ScriptLoadResult> {
  if (cluster.status !== 'ready')
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the cluster did not become ready')), 10_000);
      cluster.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  const masters = cluster.nodes('master');
  if (masters.length === 0) throw new Error('the cluster client knows no master yet');
  const results = await Promise.all(masters.map((m) => loadBullmqScripts(m)));
  return {
    loaded: results.reduce((n, r) => n + r.loaded, 0),
    total: results.reduce((n, r) => n + r.total, 0),
  };
}
