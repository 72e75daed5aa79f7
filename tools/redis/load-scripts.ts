// `npm run redis:load-scripts [-- --watch]`: the operator step that puts BullMQ's Lua scripts
// into Redis' script cache, since the services may only EVALSHA (ADR 0018). Once: an init
// step after Redis starts. --watch: a sidecar that reloads within an interval of a restart
// (the cache is empty after every start) and keeps running.
import Redis, { Cluster, type RedisOptions } from 'ioredis';
import { loadBullmqScripts, loadBullmqScriptsOnCluster } from '@lpi/messaging';
import { readLoaderConfig } from './load-scripts.config';

const log = (line: string) => process.stdout.write(`[redis:load-scripts] ${line}\n`);

async function main(): Promise<void> {
  const watch = process.argv.includes('--watch');
  const config = readLoaderConfig();
  const options: RedisOptions = {
    username: config.username,
    password: config.password,
    // the loader user may run SCRIPT LOAD/EXISTS, PING and CLUSTER SLOTS only: no INFO, no
    // CLIENT SETINFO
    enableReadyCheck: false,
    disableClientInfo: true,
    maxRetriesPerRequest: 1,
  };
  const retry = () => Math.min(config.intervalMs, 1000);
  const conn = config.cluster
    ? new Cluster(config.cluster, {
        redisOptions: options,
        enableReadyCheck: false,
        clusterRetryStrategy: retry,
      })
    : new Redis({ ...options, host: config.host, port: config.port, retryStrategy: retry });
  let lastError = '';
  conn.on('error', (err: Error) => {
    if (err.message !== lastError) log(`redis: ${err.message}`);
    lastError = err.message;
  });
  const where = config.cluster
    ? `every master of the cluster at ${config.cluster.map((n) => `${n.host}:${n.port}`).join(',')}`
    : `${config.host}:${config.port}`;
  const once = async () => {
    const { loaded, total } = await (conn instanceof Cluster
      ? loadBullmqScriptsOnCluster(conn)
      : loadBullmqScripts(conn));
    if (loaded > 0 || !watch) log(`loaded ${loaded} of ${total} BullMQ scripts into ${where}`);
    lastError = '';
  };
  if (!watch) {
    try {
      await once();
    } finally {
      conn.disconnect();
    }
    return;
  }
  log(`watching ${where} every ${config.intervalMs} ms`);
  let stopping = false;
  const stop = () => {
    stopping = true;
    conn.disconnect();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  while (!stopping) {
    await once().catch((err: Error) => {
      if (err.message !== lastError) log(`not loaded yet: ${err.message}`);
      lastError = err.message;
    });
    await new Promise((r) => setTimeout(r, config.intervalMs));
  }
}

main().catch((err: Error) => {
  log(`failed: ${err.message}`);
  process.exit(1);
});
