// eslint-disable-next-line @typescript-eslint/triple-slash-reference -- an app build compiles its own src/** only: the ambient declaration must come with this file
/// <reference path="./bullmq-scripts.d.ts" />
import { createHash } from 'node:crypto';
import * as bullmqScripts from 'bullmq/dist/cjs/scripts';
import Redis, { Command, type RedisOptions } from 'ioredis';

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
    // ioredis' Script builds each call with its own Command subclass (the EVAL fallback);
    // the plain Command sends what Script.execute asks for: EVALSHA <sha> <numkeys> ...
    (this.scriptsSet as Record<string, ScriptHolder>)[name].Command = Command;
  }

  override duplicate(override?: Partial<RedisOptions>): Redis {
    // ioredis' own duplicate() does the same spread, but into the base class
    return new EvalshaOnlyRedis({ ...this.options, ...override, replyMapping: 'legacy' });
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
