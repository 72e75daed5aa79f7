import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './ports';
import { runLogFile } from './run-logs';

const ROOT = join(__dirname, '..', '..', '..');

export interface TsProcessOptions {
  name: string;
  /** Entry file relative to the repo root, e.g. `apps/payment-service/src/main.ts`. */
  entry: string;
  env: Record<string, string>;
  /**
   * Append stdout+stderr here (the log-secret scan reads these files). The child writes to
   * the file itself, so a busy service's logs cost this process nothing.
   */
  logFile?: string;
  /** Resolves true once the process serves. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
  /**
   * `ts` (default) runs the entry through `@swc-node/register`; `bundle` runs the app's
   * build output, `dist/apps/<app>/main.js`, under plain node, as an image does (build it
   * first: `npx nx run-many -t build`). Defaults to `LPI_SERVICE_RUNTIME`.
   */
  runtime?: ServiceRuntimeKind;
}

export type ServiceRuntimeKind = 'ts' | 'bundle';

/**
 * The environment a bundle runs with, here and in the image (deploy/docker/service.Dockerfile
 * sets the same; a spec checks): a 2 MB young generation instead of up to 16 MB per semi-space
 * (ADR 0019), and jemalloc's settings: freed pages go back to the system within a second, two
 * arenas, no per-thread cache (ADR 0033). `MALLOC_ARENA_MAX` is glibc's, for a machine
 * without jemalloc.
 */
export const BUNDLE_ENV: Readonly<Record<string, string>> = {
  NODE_OPTIONS: '--max-semi-space-size=2',
  MALLOC_ARENA_MAX: '2',
  MALLOC_CONF: 'background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:2,tcache:false',
};

/** Where the service image puts jemalloc, preloaded into node. */
export const IMAGE_JEMALLOC = '/usr/local/lib/libjemalloc.so.2';

/** This machine's jemalloc (Debian's libjemalloc2, a dependency of redis-server), if any. */
export function localJemalloc(): string | undefined {
  const triplet = { x64: 'x86_64', arm64: 'aarch64' }[process.arch as string];
  const path = `/usr/lib/${triplet}-linux-gnu/libjemalloc.so.2`;
  return triplet && existsSync(path) ? path : undefined;
}

/** BUNDLE_ENV, with jemalloc preloaded when this machine has it, as the image has. */
export function bundleEnv(): Record<string, string> {
  const jemalloc = localJemalloc();
  return { ...BUNDLE_ENV, ...(jemalloc ? { LD_PRELOAD: jemalloc } : {}) };
}

/** `LPI_SERVICE_RUNTIME=bundle` makes every spawned app run from its bundle. */
export const defaultServiceRuntime = (): ServiceRuntimeKind =>
  process.env.LPI_SERVICE_RUNTIME === 'bundle' ? 'bundle' : 'ts';

/** The node arguments that run an entry: through swc, or the app's bundle. */
export function entryArgs(entry: string, runtime: ServiceRuntimeKind): string[] {
  if (runtime === 'ts') return ['-r', '@swc-node/register', entry];
  const app = /^apps\/([^/]+)\/src\/main\.ts$/.exec(entry)?.[1];
  if (!app) throw new Error(`${entry}: only an app's src/main.ts has a bundle`);
  const bundle = join('dist', 'apps', app, 'main.js');
  if (!existsSync(join(ROOT, bundle)))
    throw new Error(`${bundle} is missing: build it first (npx nx run ${app}:build)`);
  return [bundle];
}

export interface TsProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** Everything the process printed so far. */
  output(): string;
  /** When the latest launch spawned (`performance.now()`) and how long it took to be ready. */
  lastLaunch(): { spawnedAt: number; readyMs: number } | undefined;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** `LPI_CPU_PROF=<dir>` writes a V8 CPU profile of every spawned process (bench profiling). */
const profileFlags = () =>
  process.env.LPI_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.LPI_CPU_PROF] : [];

/** Runs a TypeScript entry point (or its app's bundle) as its own process. */
export async function startTsProcess(options: TsProcessOptions): Promise<TsProcess> {
  // under `npm test` every process logs into the run's directory (the run-wide leak scan)
  options = { ...options, logFile: options.logFile ?? runLogFile(options.name) };
  let child: ChildProcess | undefined;
  let out = '';
  let last: { spawnedAt: number; readyMs: number } | undefined;
  const output = () => (options.logFile ? readFileSync(options.logFile, 'utf8') : out);

  const launch = async () => {
    const fd = options.logFile ? openSync(options.logFile, 'a') : undefined;
    const runtime = options.runtime ?? defaultServiceRuntime();
    const spawnedAt = performance.now();
    let proc: ChildProcess;
    try {
      proc = spawn(process.execPath, [...profileFlags(), ...entryArgs(options.entry, runtime)], {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '',
          NODE_NO_WARNINGS: '1',
          ...(runtime === 'bundle' ? bundleEnv() : {}),
          ...options.env,
        },
        stdio: ['ignore', fd ?? 'pipe', fd ?? 'pipe'],
      });
    } finally {
      if (fd !== undefined) closeSync(fd); // the child holds its own copy
    }
    child = proc;
    const onData = (d: Buffer) => {
      out += d.toString();
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code, signal) =>
        reject(
          new Error(
            `${options.name} exited during start-up (code ${code}, signal ${signal}):\n${output().slice(-2000)}`,
          ),
        ),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([
      exited,
      waitFor(
        `${options.name} to become ready`,
        async () => ((await options.ready()) ? true : undefined),
        {
          timeoutMs: options.readyTimeoutMs ?? 30_000,
          intervalMs: 100,
        },
      ),
    ]);
    last = { spawnedAt, readyMs: performance.now() - spawnedAt };
  };

  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (err) {
    await kill('SIGKILL');
    throw err;
  }
  return {
    name: options.name,
    get pid() {
      return child?.pid;
    },
    output,
    lastLaunch: () => last,
    kill,
    async restart() {
      await kill();
      await launch();
    },
    stop: () => kill('SIGTERM'),
  };
}
