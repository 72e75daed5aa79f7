// One ContainerRun as `docker run` arguments. Files a volume holds are written under a work
// directory, owned by the pod's user (as kubelet does with fsGroup) and bind-mounted read-only;
// emptyDirs become tmpfs of their sizeLimit; env goes through a 0600 env file, so no value
// (the sandbox's admin token) shows on a command line or in `ps`.
import { chmodSync, chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ContainerRun } from './pod-spec';

export const LABEL = 'lpi.pods.test=1';

export interface Placement {
  network: string;
  /** `container:<name>` for a pod's second container (the pod's one network namespace). */
  shareNetworkOf?: string;
  aliases: string[];
  publish?: number[];
  name: string;
}

export function dockerRunArgs(c: ContainerRun, where: Placement, workDir: string): string[] {
  const dir = join(workDir, where.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const owner = c.user.fsGroup ?? c.user.gid;
  const args = ['run', '-d', '--name', where.name, '--label', LABEL];
  if (where.shareNetworkOf) args.push('--network', `container:${where.shareNetworkOf}`);
  else {
    args.push('--network', where.network);
    for (const a of where.aliases) args.push('--network-alias', a);
    for (const p of where.publish ?? []) args.push('-p', `127.0.0.1::${p}`);
  }
  args.push('--user', `${c.user.uid}:${c.user.gid}`);
  if (c.user.fsGroup !== undefined) args.push('--group-add', String(c.user.fsGroup));
  if (c.readOnlyRoot) args.push('--read-only');
  if (c.dropAll) args.push('--cap-drop', 'ALL');
  if (c.noNewPrivileges) args.push('--security-opt', 'no-new-privileges');
  if (c.memoryBytes) args.push('--memory', String(c.memoryBytes));
  if (c.cpus) args.push('--cpus', String(c.cpus));
  c.mounts.forEach((m, i) => {
    if (m.kind === 'tmpfs') {
      const size = m.sizeBytes ? `,size=${m.sizeBytes}` : '';
      args.push(
        '--tmpfs',
        `${m.path}:rw,exec,nosuid,nodev,uid=${c.user.uid},gid=${owner},mode=0770${size}`,
      );
      return;
    }
    const src = join(dir, `volume-${i}`);
    mkdirSync(src, { mode: 0o755 });
    chmodSync(src, 0o755);
    for (const [file, content] of Object.entries(m.files)) {
      const path = join(src, file);
      writeFileSync(path, content);
      chownSync(path, c.user.uid, owner);
      chmodSync(path, m.mode);
    }
    args.push('-v', `${src}:${m.path}:ro`);
  });
  const envFile = join(dir, 'env');
  writeFileSync(
    envFile,
    Object.entries(c.env)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n'),
    { mode: 0o600 },
  );
  args.push('--env-file', envFile);
  const [entrypoint, ...commandRest] = c.command ?? [];
  if (entrypoint) args.push('--entrypoint', entrypoint);
  args.push(c.image, ...commandRest, ...(c.args ?? []));
  return args;
}
