// Running rendered pods under Docker: start a workload's containers (a pod's second container
// shares the first one's network namespace, as in a pod), poll their probes from the host.
import { connect } from 'node:net';
import { dockerRunArgs, type Placement } from './docker-run';
import type { ContainerRun, Probe } from './pod-spec';
import { containerIp, docker, waitFor } from './stand-ins';
import { run } from '../compose/sh';

export interface RunningPod {
  pod: string;
  containers: { run: ContainerRun; name: string }[];
  ip: string;
}

export function startPod(
  containers: ContainerRun[],
  o: { prefix: string; network: string; workDir: string; aliases?: string[]; publish?: number[] },
  log: (line: string) => void,
): RunningPod {
  const first = containers[0];
  if (!first) throw new Error('a pod with no container');
  const names = containers.map((c) => `${o.prefix}-${c.pod}-${c.container}`);
  containers.forEach((c, i) => {
    const where: Placement = {
      name: names[i] as string,
      network: o.network,
      aliases: i === 0 ? (o.aliases ?? [c.pod]) : [],
      publish: i === 0 ? o.publish : undefined,
      shareNetworkOf: i === 0 ? undefined : names[0],
    };
    const args = dockerRunArgs(c, where, o.workDir);
    log(`${c.pod}/${c.container}: ${c.image} as ${c.user.uid}:${c.user.gid}` +
      `${c.readOnlyRoot ? ', read-only root' : ''}${c.dropAll ? ', cap-drop ALL' : ''}` +
      `${c.noNewPrivileges ? ', no-new-privileges' : ''}; mounts ${c.mounts.map((m) => `${m.path} (${m.source})`).join(', ')}`); // prettier-ignore
    run('docker', args, { capture: true, quiet: true });
  });
  return {
    pod: first.pod,
    containers: containers.map((c, i) => ({ run: c, name: names[i] as string })),
    ip: containerIp(names[0] as string, o.network),
  };
}

export async function probeOnce(ip: string, p: Probe): Promise<boolean> {
  if (p.kind === 'tcp')
    return new Promise((resolve) => {
      const s = connect(p.port, ip);
      s.setTimeout(3000);
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
      s.once('timeout', () => (s.destroy(), resolve(false)));
    });
  const res = await fetch(`http://${ip}:${p.port}${p.path}`, { signal: AbortSignal.timeout(3000) });
  await res.arrayBuffer();
  return res.status >= 200 && res.status < 400;
}

function state(name: string): string {
  return docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]);
}

/** Until every container's readiness probe passes (and then its liveness probe). */
export async function waitReady(pod: RunningPod, timeoutMs: number, log: (l: string) => void) {
  const t0 = Date.now();
  await waitFor(
    `${pod.pod} ready`,
    async () => {
      for (const c of pod.containers) {
        const s = state(c.name);
        if (!s.startsWith('running')) throw new Error(`${c.name} ${s}`);
        if (c.run.readiness && !(await probeOnce(pod.ip, c.run.readiness))) return undefined;
      }
      return true;
    },
    timeoutMs,
  ).catch((error: Error) => {
    for (const c of pod.containers)
      run('docker', ['logs', '--tail', '30', c.name], { allowFail: true, quiet: true });
    throw new Error(`${pod.pod} did not become ready: ${error.message}`);
  });
  // kubelet restarts a container only after failureThreshold (3) failed liveness periods
  for (const c of pod.containers)
    if (c.run.liveness) {
      const probe = c.run.liveness;
      await waitFor(`${pod.pod} live`, async () => ((await probeOnce(pod.ip, probe)) ? true : undefined), 30_000).catch(() => {
        throw new Error(`${pod.pod}/${c.run.container}: liveness probe failing 30 s after readiness`);
      }); // prettier-ignore
    }
  const probes = pod.containers
    .map((c) => `${c.run.container}: ${describe(c.run.readiness)}/${describe(c.run.liveness)}`)
    .join('; ');
  log(`${pod.pod} ready and live in ${((Date.now() - t0) / 1000).toFixed(0)}s (${probes})`);
}

const describe = (p?: Probe) =>
  !p ? 'no probe' : p.kind === 'http' ? `GET :${p.port}${p.path}` : `tcp :${p.port}`;
