import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { loadConfig, setting } from '@lpi/service-bootstrap';

/**
 * The script loader's settings. The password comes from a file (a mounted secret), never
 * from the environment itself.
 */
export function readLoaderConfig(env: Record<string, string | undefined> = process.env) {
  const c = loadConfig(
    'redis-script-loader',
    {
      REDIS_HOST: z.string().default('127.0.0.1'),
      REDIS_PORT: setting.port(6379),
      /** Seed nodes of a Redis Cluster: the scripts are loaded on every master (ADR 0028). */
      REDIS_CLUSTER_NODES: setting.hostPortList().optional(),
      REDIS_LOADER_USERNAME: z.string().default('script-loader'),
      REDIS_LOADER_PASSWORD_FILE: setting.file(),
      /** With --watch: how often the cache is checked (a restart is noticed within this). */
      REDIS_LOADER_INTERVAL_MS: setting.positiveInt(1000),
    },
    env,
  );
  return {
    host: c.REDIS_HOST,
    port: c.REDIS_PORT,
    cluster: c.REDIS_CLUSTER_NODES,
    username: c.REDIS_LOADER_USERNAME,
    password: readFileSync(c.REDIS_LOADER_PASSWORD_FILE, 'utf8').trim(),
    intervalMs: c.REDIS_LOADER_INTERVAL_MS,
  };
}
