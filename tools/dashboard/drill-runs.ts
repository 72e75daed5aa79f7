// The drill run from the page: one at a time, its printed lines kept as progress, its rows
// written to the results file the page shows when it ends.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { DrillRow, Layer } from '../drill/rows';
import { writeResults } from '../drill/report';
import { REPO_ROOT } from './stack-file';

/** Runs the drill (or some of its layers), printing progress; resolves with its rows. */
export type DrillRunner = (
  print: (line: string) => void,
  layers?: readonly Layer[],
) => Promise<void>;

export interface DrillRunState {
  running: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  outcome: 'held' | 'failed' | 'error' | null;
  /** The last lines the drill printed. */
  progress: string[];
}

const KEEP_LINES = 40;

export class DrillRuns {
  private current: DrillRunState = {
    running: false,
    startedAt: null,
    finishedAt: null,
    outcome: null,
    progress: [],
  };

  constructor(private readonly runner: DrillRunner) {}

  get state(): DrillRunState {
    return { ...this.current, progress: [...this.current.progress] };
  }

  /** Starts a run unless one is under way; false when one is. */
  start(layers?: readonly Layer[]): boolean {
    if (this.current.running) return false;
    this.current = {
      running: true,
      startedAt: new Date().toISOString(),
      finishedAt: null,
      outcome: null,
      progress: [],
    };
    const print = (text: string) => {
      for (const line of text.split('\n').filter((l) => l.trim()))
        this.current.progress = [...this.current.progress, line].slice(-KEEP_LINES);
    };
    void this.runner(print, layers).then(
      () => this.finish('held'),
      (err: unknown) => {
        print(`drill failed: ${err instanceof DrillFailed ? err.message : 'it could not run'}`);
        this.finish(err instanceof DrillFailed ? 'failed' : 'error');
      },
    );
    return true;
  }

  /** Resolves when the run under way (if any) has ended. */
  async settled(): Promise<void> {
    while (this.current.running) await new Promise((r) => setTimeout(r, 100));
  }

  private finish(outcome: DrillRunState['outcome']) {
    this.current = {
      ...this.current,
      running: false,
      finishedAt: new Date().toISOString(),
      outcome,
    };
  }
}

/** The drill ran to its end and some expectation did not hold. */
export class DrillFailed extends Error {
  readonly code = 'DRILL_EXPECTATION_FAILED';
}

/** In the process that holds the stack (the demo): the drill against that stack. */
export function inProcessRunner(
  run: (o: {
    print: (l: string) => void;
    layers?: readonly Layer[];
    incident: boolean;
  }) => Promise<{
    rows: DrillRow[];
    failures: DrillRow[];
  }>,
  resultsFile: string,
): DrillRunner {
  return async (print, layers) => {
    const result = await run({ print, layers, incident: !layers });
    writeResults(resultsFile, result.rows);
    if (result.failures.length)
      throw new DrillFailed(`${result.failures.length} expectations did not hold`);
  };
}

/**
 * Standalone: `npm run drill` as a child process, on a stack of its own (the dashboard holds
 * no credential of the running one); it writes drill-results.json at the repository root.
 */
export function childProcessRunner(): DrillRunner {
  return (print) =>
    new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['-r', '@swc-node/register', join(REPO_ROOT, 'tools', 'drill', 'drill.ts')],
        { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout.setEncoding('utf8').on('data', print);
      child.stderr.setEncoding('utf8').on('data', print);
      child.on('error', reject);
      child.on('exit', (code) =>
        code === 0
          ? resolve()
          : reject(
              code === 1
                ? new DrillFailed('some expectations did not hold (see the grid)')
                : new Error(`drill exited ${code}`),
            ),
      );
    });
}
