// A Docker engine for the compose test: reuse a running one, or start `dockerd` (root) and
// stop exactly that process afterwards.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { run, succeeds } from './sh';

export interface Engine {
  startedHere: boolean;
  stop(): Promise<void>;
}

export class EngineUnavailable extends Error {
  readonly code = 'DOCKER_ENGINE_UNAVAILABLE';
}

const engineUp = () => succeeds('docker', ['info', '--format', '{{.ServerVersion}}']);

export async function ensureEngine(logFile: string, log: (line: string) => void): Promise<Engine> {
  if (engineUp()) {
    log('a Docker engine is already running: reusing it');
    return { startedHere: false, stop: async () => undefined };
  }
  if (!succeeds('sh', ['-c', 'command -v dockerd']))
    throw new EngineUnavailable('dockerd not found: install Debian package docker.io');
  const out = openSync(logFile, 'a');
  const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  log(`started dockerd (pid ${child.pid}, log ${logFile})`);
  const stop = async () => {
    if (child.exitCode !== null || child.pid === undefined) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    process.kill(child.pid, 'SIGTERM');
    await Promise.race([exited, sleep(20_000)]);
    if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
    log(`stopped dockerd (pid ${child.pid})`);
  };
  for (let i = 0; i < 60; i++) {
    if (engineUp()) {
      run('docker', [
        'version',
        '--format',
        'engine {{.Server.Version}}, client {{.Client.Version}}',
      ]);
      return { startedHere: true, stop };
    }
    if (child.exitCode !== null) break;
    await sleep(1000);
  }
  await stop();
  throw new EngineUnavailable(`dockerd did not become ready: see ${logFile}`);
}
