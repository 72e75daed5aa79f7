import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './ports';

const ROOT = join(__dirname, '..', '..', '..');

export interface TsProcessOptions {
  name: string;
  /** Entry file relative to the repo root, e.g. `apps/payment-service/src/main.ts`. */
  entry: string;
  env: Record<string, string>;
  /** Append stdout+stderr here (the log-secret scan reads these files). */
  logFile?: string;
  /** Resolves true once the process serves. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

export interface TsProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** Everything the process printed so far. */
  output(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs a TypeScript entry point as its own process (`node -r @swc-node/register`). */
export async function startTsProcess(options: TsProcessOptions): Promise<TsProcess> {
  let child: ChildProcess | undefined;
  let out = '';
  let log: WriteStream | undefined;

  const launch = async () => {
    log = options.logFile ? createWriteStream(options.logFile, { flags: 'a' }) : undefined;
    const proc = spawn(process.execPath, ['-r', '@swc-node/register', options.entry], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', NODE_NO_WARNINGS: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const onData = (d: Buffer) => {
      out += d.toString();
      log?.write(d);
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    const exited = new Promise<never>((_, reject) =>
      proc.once('exit', (code, signal) =>
        reject(
          new Error(
            `${options.name} exited during start-up (code ${code}, signal ${signal}):\n${out.slice(-2000)}`,
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
  };

  const kill = async (signal: NodeJS.Signals = 'SIGTERM') => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise<void>((r) => proc.once('exit', () => r()));
    proc.kill(signal);
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await gone;
    clearTimeout(timer);
    await new Promise<void>((r) => (log ? log.end(r) : r()));
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
    output: () => out,
    kill,
    async restart() {
      await kill();
      await launch();
    },
    stop: () => kill('SIGTERM'),
  };
}
