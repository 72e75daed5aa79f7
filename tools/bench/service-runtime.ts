// The bench's "service runtime" section: the four services started from their bundles
// (`dist/apps/<service>/main.js` under plain node, as in an image), how long one takes from
// spawn to ready (Vault login and first provider token included) and how much memory each
// holds when idle after the demo's scenario has run. Build first: npx nx run-many -t build.
import { readFileSync } from 'node:fs';
import { SERVICE_NAMES, type ServiceName } from '@lpi/access-matrix';
import { localJemalloc } from '@lpi/testing';
import { ScenarioLog, scenario } from '../demo/scenario';
import { startStack, type Stack } from '../demo/stack';

export interface ServiceRuntimeFigures {
  /** Largest idle resident set of the four, MB. */
  serviceIdleRssMb: number;
  perServiceRssMb: Record<ServiceName, number>;
  /** Spawn to ready and first provider token, median of the restarts, ms. */
  serviceReadyMs: number;
  readyRuns: number[];
}

/** Resident set of a process, MB, from /proc (Linux). */
export function residentMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One restart of `service` from its bundle: a fresh wrapped secret-id, spawn, until it is
 * ready and the sandbox has issued it a token; ms from spawn.
 */
async function timedRestart(stack: Stack, service: ServiceName): Promise<number> {
  const tokens = async () => (await stack.sandbox.admin.tokenCounts())[service] ?? 0;
  const before = await tokens();
  let tokenAt: number | undefined;
  let polling = true;
  const poll = (async () => {
    while (polling && tokenAt === undefined) {
      if ((await tokens()) > before) tokenAt = performance.now();
      else await sleep(20);
    }
  })();
  await stack.crashAndRestart(service);
  const launch = stack.services[service].process.lastLaunch();
  if (!launch) throw new Error(`${service} has no launch timing`);
  const deadline = performance.now() + 15_000;
  while (tokenAt === undefined && performance.now() < deadline) await sleep(20);
  polling = false;
  await poll;
  if (tokenAt === undefined) throw new Error(`${service} took no provider token within 15 s`);
  return Math.max(launch.readyMs, tokenAt - launch.spawnedAt);
}

export async function serviceRuntimeBenchmark(options: {
  restarts: number;
  idleMs: number;
  log: (line: string) => void;
}): Promise<ServiceRuntimeFigures> {
  const jemalloc = localJemalloc();
  options.log(
    `start the stack, the four services from their bundles (allocator: ${
      jemalloc ? `jemalloc, ${jemalloc}` : 'glibc malloc: no libjemalloc2 on this machine'
    })`,
  );
  const stack = await startStack({ serviceRuntime: 'bundle' });
  try {
    options.log('run the demo scenario');
    const log = new ScenarioLog(() => undefined);
    await scenario(stack, log);
    const failed = log.checks.filter((c) => !c.ok);
    if (failed.length)
      throw new Error(`the scenario failed: ${failed.map((c) => c.step).join(', ')}`);
    options.log(`idle ${options.idleMs / 1000} s, then read each service's resident set`);
    await sleep(options.idleMs);
    const perServiceRssMb = Object.fromEntries(
      SERVICE_NAMES.map((s) => {
        const pid = stack.services[s].process.pid;
        if (pid === undefined) throw new Error(`${s} is not running`);
        return [s, residentMb(pid)];
      }),
    ) as Record<ServiceName, number>;
    const readyRuns: number[] = [];
    for (let i = 0; i < options.restarts; i += 1) {
      readyRuns.push(await timedRestart(stack, 'payment-service'));
      options.log(`payment-service restart ${i + 1}: ready in ${Math.round(readyRuns[i])} ms`);
    }
    const sorted = [...readyRuns].sort((a, b) => a - b);
    return {
      serviceIdleRssMb: Math.max(...Object.values(perServiceRssMb)),
      perServiceRssMb,
      serviceReadyMs: sorted[Math.floor(sorted.length / 2)],
      readyRuns,
    };
  } finally {
    await stack.stop();
  }
}
