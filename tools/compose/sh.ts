// Small process helpers for the compose tooling: every command is echoed before it runs.
import { spawnSync } from 'node:child_process';

export class CommandFailed extends Error {
  readonly code = 'COMMAND_FAILED';
  constructor(
    readonly command: string,
    readonly status: number | null,
    readonly output = '',
  ) {
    super(`command failed (exit ${status}): ${command}${output ? `\n${output.slice(-2000)}` : ''}`);
  }
}

export interface RunOptions {
  /** Capture stdout instead of streaming it (stderr is captured too, for the error). */
  capture?: boolean;
  input?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Do not throw on a non-zero exit. */
  allowFail?: boolean;
  quiet?: boolean;
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  const line = [cmd, ...args].join(' ');
  if (!options.quiet)
    process.stdout.write(`    $ ${line.length > 200 ? `${line.slice(0, 200)}…` : line}\n`);
  const result = spawnSync(cmd, args, {
    cwd: options.cwd,
    env: options.env,
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
    stdio: [
      options.input === undefined ? 'ignore' : 'pipe',
      options.capture ? 'pipe' : 'inherit',
      options.capture ? 'pipe' : 'inherit',
    ],
  });
  const out = { status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
  if (result.status !== 0 && !options.allowFail)
    throw new CommandFailed(line, result.status, `${out.stdout}${out.stderr}`);
  return out;
}

export const succeeds = (cmd: string, args: readonly string[]): boolean =>
  run(cmd, args, { capture: true, allowFail: true, quiet: true }).status === 0;
