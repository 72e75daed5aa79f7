// From rendered Kubernetes objects to what `docker run` needs to run each container exactly as
// the pod spec says: image, command/args, env (value, configMapKeyRef, secretKeyRef), user,
// read-only root, capabilities, no-new-privileges, resources, mounts and probes. Nothing here
// is hand-written per service: a manifest change is what the pod test runs.
import type { K8sObject } from '../deploy/render';

export class PodSpecUnsupported extends Error {
  readonly code = 'POD_SPEC_UNSUPPORTED';
}

/** What the test supplies for objects the overlay leaves to the operator. */
export interface TestValues {
  /** ConfigMap name -> data; merged over the rendered ConfigMap's data. */
  configMaps: Record<string, Record<string, string>>;
  /** Secret name -> data (the overlays render no Secret: all are created out of band). */
  secrets: Record<string, Record<string, string>>;
  /** ServiceAccount name -> the projected token's content. */
  serviceAccountTokens: Record<string, string>;
}

export type Mount =
  | { kind: 'files'; path: string; files: Record<string, string>; mode: number; source: string }
  | { kind: 'tmpfs'; path: string; sizeBytes?: number; source: string };

export interface Probe {
  kind: 'http' | 'tcp';
  port: number;
  path?: string;
}

export interface ContainerRun {
  pod: string;
  container: string;
  image: string;
  command?: string[];
  args?: string[];
  env: Record<string, string>;
  user: { uid: number; gid: number; fsGroup?: number };
  readOnlyRoot: boolean;
  dropAll: boolean;
  noNewPrivileges: boolean;
  memoryBytes?: number;
  cpus?: number;
  mounts: Mount[];
  ports: number[];
  readiness?: Probe;
  liveness?: Probe;
}

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered YAML, walked by field name */
type Any = any;

const UNITS: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6 };

export function quantityBytes(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  const m = /^(\d+(?:\.\d+)?)([KMG]i|[kM])?$/.exec(String(q));
  if (!m) throw new PodSpecUnsupported(`quantity ${q}`);
  return Math.round(Number(m[1]) * (m[2] ? (UNITS[m[2]] ?? 1) : 1));
}

export function quantityCpus(q: string | number | undefined): number | undefined {
  if (q === undefined) return undefined;
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) / 1000 : Number(s);
}

const findObject = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);

function envOf(c: Any, objects: K8sObject[], values: TestValues): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of (c.env ?? []) as Any[]) {
    if (e.value !== undefined) env[e.name] = String(e.value);
    else if (e.valueFrom?.configMapKeyRef) {
      const { name, key } = e.valueFrom.configMapKeyRef;
      const data = configMapData(objects, values, name);
      if (data[key] === undefined) throw new PodSpecUnsupported(`ConfigMap ${name} has no ${key}`);
      env[e.name] = data[key];
    } else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      const value = values.secrets[name]?.[key];
      if (value === undefined)
        throw new PodSpecUnsupported(`no test value for Secret ${name}/${key}`);
      env[e.name] = value;
    } else throw new PodSpecUnsupported(`env ${e.name}: unsupported source`);
  }
  return env;
}

/** The rendered ConfigMap (kustomize may have suffixed its name), test values merged over it. */
function configMapData(objects: K8sObject[], values: TestValues, name: string) {
  const rendered = findObject(objects, 'ConfigMap', name) as Any;
  const base = name.replace(/-[a-z0-9]{10}$/, '');
  const test = values.configMaps[name] ?? values.configMaps[base];
  if (!rendered && !test)
    throw new PodSpecUnsupported(`ConfigMap ${name}: not rendered, no test value`);
  return { ...((rendered?.data ?? {}) as Record<string, string>), ...(test ?? {}) };
}

function volumeMount(
  vm: Any,
  volumes: Any[],
  pod: Any,
  objects: K8sObject[],
  values: TestValues,
): Mount {
  const v = volumes.find((x) => x.name === vm.name);
  if (!v) throw new PodSpecUnsupported(`volumeMount ${vm.name}: no such volume`);
  const source = `${Object.keys(v).find((k) => k !== 'name')} ${v.name}`;
  if (v.emptyDir)
    return {
      kind: 'tmpfs',
      path: vm.mountPath,
      sizeBytes: quantityBytes(v.emptyDir.sizeLimit),
      source,
    };
  if (v.configMap)
    return {
      kind: 'files',
      path: vm.mountPath,
      files: configMapData(objects, values, v.configMap.name),
      mode: v.configMap.defaultMode ?? 0o644,
      source,
    };
  if (v.secret) {
    const data = values.secrets[v.secret.secretName];
    if (!data) throw new PodSpecUnsupported(`no test value for Secret ${v.secret.secretName}`);
    const items = v.secret.items as { key: string; path: string }[] | undefined;
    const files = items
      ? Object.fromEntries(
          items.map((i) => {
            if (data[i.key] === undefined)
              throw new PodSpecUnsupported(
                `no test value for Secret ${v.secret.secretName}/${i.key}`,
              );
            return [i.path, data[i.key] as string];
          }),
        )
      : data;
    return {
      kind: 'files',
      path: vm.mountPath,
      files,
      mode: v.secret.defaultMode ?? 0o644,
      source,
    };
  }
  if (v.projected) {
    const files: Record<string, string> = {};
    for (const s of v.projected.sources as Any[]) {
      if (!s.serviceAccountToken)
        throw new PodSpecUnsupported(`projected ${v.name}: only serviceAccountToken`);
      const token = values.serviceAccountTokens[pod.serviceAccountName];
      if (!token)
        throw new PodSpecUnsupported(`no token for ServiceAccount ${pod.serviceAccountName}`);
      files[s.serviceAccountToken.path] = token;
    }
    // kubelet writes the token readable by the pod's user only
    return { kind: 'files', path: vm.mountPath, files, mode: 0o600, source };
  }
  throw new PodSpecUnsupported(`volume ${v.name}: unsupported type`);
}

function probeOf(p: Any, ports: Record<string, number>): Probe | undefined {
  if (!p) return undefined;
  const port = (ref: string | number) =>
    typeof ref === 'number' ? ref : (ports[ref] ?? Number(ref));
  if (p.httpGet) return { kind: 'http', port: port(p.httpGet.port), path: p.httpGet.path };
  if (p.tcpSocket) return { kind: 'tcp', port: port(p.tcpSocket.port) };
  throw new PodSpecUnsupported('probe: only httpGet and tcpSocket');
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'Job']);

/** Every container of every Deployment, StatefulSet and Job in a render. */
export function containerRuns(
  objects: K8sObject[],
  values: TestValues,
  only: (workload: string) => boolean = () => true,
): ContainerRun[] {
  const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind) && only(o.metadata.name));
  return workloads.flatMap((w) => {
    const template = (w as Any).spec.template.spec;
    const claims = ((w as Any).spec.volumeClaimTemplates ?? []).map((c: Any) => ({
      name: c.metadata.name,
      // a claim is a fresh, empty, fsGroup-owned directory for this test: a tmpfs (emptyDir and
      // claims are not noexec, unlike Docker's default tmpfs)
      emptyDir: { sizeLimit: c.spec.resources?.requests?.storage },
    }));
    const volumes = [...(template.volumes ?? []), ...claims];
    return (template.containers as Any[]).map((c): ContainerRun => {
      const sc = { ...template.securityContext, ...c.securityContext };
      if (sc.privileged) throw new PodSpecUnsupported(`${w.metadata.name}: privileged`);
      if (sc.runAsNonRoot && !sc.runAsUser)
        throw new PodSpecUnsupported(`${w.metadata.name}: runAsNonRoot without runAsUser`);
      const ports: Record<string, number> = Object.fromEntries(
        (c.ports ?? []).map((p: Any) => [p.name, p.containerPort]),
      );
      return {
        pod: w.metadata.name,
        container: c.name,
        image: c.image,
        command: c.command,
        args: c.args,
        env: envOf(c, objects, values),
        user: {
          uid: sc.runAsUser,
          gid: sc.runAsGroup ?? sc.runAsUser,
          fsGroup: template.securityContext?.fsGroup,
        },
        readOnlyRoot: sc.readOnlyRootFilesystem === true,
        dropAll: (sc.capabilities?.drop ?? []).includes('ALL'),
        noNewPrivileges: sc.allowPrivilegeEscalation === false,
        memoryBytes: quantityBytes(c.resources?.limits?.memory),
        cpus: quantityCpus(c.resources?.limits?.cpu),
        mounts: (c.volumeMounts ?? []).map((vm: Any) =>
          volumeMount(vm, volumes, template, objects, values),
        ),
        ports: Object.values(ports),
        readiness: probeOf(c.readinessProbe, ports),
        liveness: probeOf(c.livenessProbe, ports),
      };
    });
  });
}
