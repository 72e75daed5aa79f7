// The compose stack under test: the file users run plus docker-compose.test.yml, driven by
// whichever Compose this machine has (v2 `docker compose`, else docker-compose 1.29).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CALLER_NAMES,
  SERVICE_NAMES,
  grantOf,
  type CallerName,
  type ServiceName,
} from '@lpi/access-matrix';
import { httpsCall } from '@lpi/testing';
import { loginCallers, type CallerIdentity } from '../demo/callers';
import type { ScenarioTarget } from '../demo/scenario';
import { containerOf } from '../drill/targets/compose';
import { run, succeeds, type RunOptions } from './sh';

export const ONE_SHOTS = [
  'volume-init',
  'pki',
  'database-secrets',
  'db-migrate',
  'bootstrap',
] as const;
export const LONG_RUNNING = [
  'postgres',
  'vault',
  'provider-sandbox',
  'redis',
  'redis-scripts',
  ...SERVICE_NAMES,
] as const;
/** Vault as the test override publishes it to the host (the callers log in there). */
export const HOST_VAULT_ADDR = 'http://127.0.0.1:8200';

/** Healthy, or running with no health check of its own (the Redis script loader). */
const isUp = (state: string | undefined) =>
  state === 'running 0' || (/healthy$/.test(state ?? '') && !/unhealthy$/.test(state ?? ''));

export class StackUnhealthy extends Error {
  readonly code = 'COMPOSE_STACK_UNHEALTHY';
}

export class ComposeStack {
  private readonly compose: string[];
  constructor(
    readonly root: string,
    readonly project: string,
    readonly files: readonly string[],
  ) {
    this.compose = succeeds('docker', ['compose', 'version'])
      ? ['docker', 'compose']
      : ['docker-compose'];
  }

  get tool(): string {
    return this.compose.join(' ');
  }

  exec(args: readonly string[], options: RunOptions = {}) {
    const [cmd, ...pre] = this.compose as [string, ...string[]];
    const fileArgs = this.files.flatMap((f) => ['-f', f]);
    return run(cmd, [...pre, '-p', this.project, ...fileArgs, ...args], {
      cwd: this.root,
      ...options,
    });
  }

  private state(service: string): string {
    const id = this.exec(['ps', '-a', '-q', service], { capture: true, quiet: true }).stdout.trim();
    if (!id) return 'absent';
    return run(
      'docker',
      [
        'inspect',
        '-f',
        '{{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}',
        id,
      ],
      { capture: true, quiet: true },
    ).stdout.trim();
  }

  /** Waits until every one-shot exited 0 and every long-running service is healthy. */
  async waitHealthy(log: (line: string) => void, timeoutMs = 6 * 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const states = Object.fromEntries(
        [...ONE_SHOTS, ...LONG_RUNNING].map((s) => [s, this.state(s)]),
      );
      // a one-shot that failed, a service Docker gave up on (its health-check retries ran out),
      // or one that crashed and is being restarted (the script loader)
      const failed = [
        ...ONE_SHOTS.filter((s) => /^exited [1-9]/.test(states[s] ?? '')),
        ...LONG_RUNNING.filter((s) => /^(exited|restarting)|unhealthy$/.test(states[s] ?? '')),
      ];
      const pending = [
        ...ONE_SHOTS.filter((s) => states[s] !== 'exited 0'),
        ...LONG_RUNNING.filter((s) => !isUp(states[s])),
      ];
      const line = pending.length
        ? `waiting for: ${pending.map((s) => `${s} (${states[s]})`).join(', ')}`
        : 'all healthy';
      if (line !== last) log(line);
      last = line;
      if (!pending.length) return;
      if (failed.length || Date.now() > deadline) {
        for (const s of [...failed, ...pending])
          this.exec(['logs', '--tail', '40', s], { allowFail: true });
        throw new StackUnhealthy(
          failed.length
            ? `failed: ${failed.join(', ')}`
            : `not healthy in time: ${pending.join(', ')}`,
        );
      }
      await sleep(3000);
    }
  }

  /**
   * A file from one of the project's volumes, read by a throwaway container with no network
   * (the caller identities' volumes are mounted by no service).
   */
  private readVolume(volume: string, path: string): string {
    const name = run(
      'docker',
      [
        'volume',
        'ls',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${this.project}`,
        '--filter',
        `label=com.docker.compose.volume=${volume}`,
      ],
      { capture: true, quiet: true },
    ).stdout.trim();
    if (!name) throw new StackUnhealthy(`volume ${volume} of ${this.project} not found`);
    return run(
      'docker',
      [
        'run',
        '--rm',
        '--network',
        'none',
        '--user',
        '10001:10001',
        '--entrypoint',
        'cat',
        '-v',
        `${name}:/v:ro`,
        'lpi/tools:local',
        `/v/${path}`,
      ],
      { capture: true, quiet: true },
    ).stdout.trim();
  }

  /** Each declared caller's identity, as the bootstrap wrote it into the caller's volume. */
  callerIdentities(): Record<CallerName, CallerIdentity> {
    return Object.fromEntries(
      CALLER_NAMES.map((caller) => [
        caller,
        {
          roleId: this.readVolume(`${caller}-identity`, 'role-id'),
          wrappedSecretId: this.readVolume(`${caller}-identity`, 'wrapped-secret-id'),
        },
      ]),
    ) as Record<CallerName, CallerIdentity>;
  }

  /**
   * The scenario's view: entry points on 127.0.0.1, the declared callers logged in to Vault
   * (published on 127.0.0.1 by the test override) with the identities the bootstrap wrote,
   * and the sandbox's admin API for the ledger.
   */
  async scenarioTarget(): Promise<ScenarioTarget> {
    const sandbox = containerOf('provider-sandbox', this.project);
    const read = (path: string) =>
      run('docker', ['exec', sandbox, 'cat', path], { capture: true, quiet: true }).stdout;
    const ca = read('/pki/ca.crt');
    const adminToken = read('/pki/sandbox-admin-token').trim();
    const services = Object.fromEntries(
      SERVICE_NAMES.map((s) => [s, { url: `http://127.0.0.1:${grantOf(s).http.port}` }]),
    ) as Record<ServiceName, { url: string }>;
    const callers = await loginCallers(
      HOST_VAULT_ADDR,
      this.callerIdentities(),
      Object.fromEntries(SERVICE_NAMES.map((s) => [s, services[s].url])) as Record<
        ServiceName,
        string
      >,
    );
    return {
      services,
      callers,
      sandbox: {
        admin: {
          ledger: async () => {
            const res = await httpsCall<
              Awaited<ReturnType<ScenarioTarget['sandbox']['admin']['ledger']>>
            >('https://localhost:9443/admin/ledger', {
              ca,
              headers: { authorization: `Bearer ${adminToken}` },
            });
            if (res.status !== 200)
              throw new StackUnhealthy(`sandbox ledger answered ${res.status}`);
            return res.json;
          },
        },
      },
    };
  }

  /** Removes every container, network and volume of the project; says what was left. */
  down(): string[] {
    this.exec(['down', '-v', '--remove-orphans', '--timeout', '10'], { allowFail: true });
    const label = `label=com.docker.compose.project=${this.project}`;
    const left = (kind: string[]) =>
      run('docker', [...kind, '-q', '--filter', label], {
        capture: true,
        quiet: true,
        allowFail: true,
      })
        .stdout.split('\n')
        .filter(Boolean);
    return [
      ...left(['ps', '-a']).map((id) => `container ${id}`),
      ...left(['network', 'ls']).map((id) => `network ${id}`),
      ...left(['volume', 'ls']).map((id) => `volume ${id}`),
    ];
  }
}
