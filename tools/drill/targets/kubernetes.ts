// `npm run drill -- --target kubernetes [--overlay local|production]`: renders the breach drill
// as Jobs to run in the cluster. One Job per service wears that service's pod labels and
// ServiceAccount and mounts the same projected Vault token, so the NetworkPolicies and the
// Vault role that bind the service bind the Job: its network and Vault rows are observed from
// the compromised service's own position. A readiness probe that never passes keeps the Job
// out of the service's endpoints. Expectations come from the access matrix at render time.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { SERVICE_NAMES, grantOf, type ServiceName } from '@lpi/access-matrix';
import { renderOverlay, type K8sObject } from '../../deploy/render';

interface Container {
  image: string;
  env?: {
    name: string;
    value?: string;
    valueFrom?: { configMapKeyRef?: { name: string; key: string } };
  }[];
  securityContext?: unknown;
  resources?: unknown;
  volumeMounts?: { name: string; mountPath: string }[];
}
interface PodTemplate {
  metadata: { labels: Record<string, string> };
  spec: {
    serviceAccountName: string;
    securityContext?: unknown;
    containers: Container[];
    volumes?: { name: string }[];
  };
}
export interface PlannedRow {
  layer: 'network' | 'vault' | 'http';
  capability: string;
  expected: 'allow' | 'deny';
  probe: Record<string, unknown>;
}

const DRILL_DIR = '/drill';
const templateOf = (d: K8sObject) => (d['spec'] as { template: PodTemplate }).template;

/** The container's environment with ConfigMap references resolved from the rendered objects. */
function envOf(objects: K8sObject[], container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    const ref = e.valueFrom?.configMapKeyRef;
    const value = ref
      ? (
          (objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === ref.name)?.['data'] ??
            {}) as Record<string, string>
        )[ref.key]
      : e.value;
    if (value !== undefined) env[e.name] = value;
  }
  return env;
}

const hostPort = (url: string) => {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)) };
};
const networkPeers = (to: ServiceName) => grantOf(to).http.callers as readonly string[];

export function planFor(service: ServiceName, env: Record<string, string>): PlannedRow[] {
  const tcp = (host: string, port: number) => ({ kind: 'tcp', host, port });
  const rows: PlannedRow[] = [
    {
      layer: 'network',
      capability: `reach Redis (${env.REDIS_HOST}:${env.REDIS_PORT})`,
      expected: 'allow',
      probe: tcp(env.REDIS_HOST ?? 'redis', Number(env.REDIS_PORT ?? 6379)),
    },
    {
      layer: 'network',
      capability: `reach Vault (${hostPort(env.VAULT_ADDR ?? '').host})`,
      expected: 'allow',
      probe: tcp(hostPort(env.VAULT_ADDR ?? '').host, hostPort(env.VAULT_ADDR ?? '').port),
    },
    {
      layer: 'network',
      capability: `reach the provider API (${hostPort(env.PROVIDER_API_URL ?? '').host})`,
      expected: grantOf(service).oauth.scopes.length ? 'allow' : 'deny',
      probe: tcp(
        hostPort(env.PROVIDER_API_URL ?? '').host,
        hostPort(env.PROVIDER_API_URL ?? '').port,
      ),
    },
  ];
  const vaultLogin = (role: ServiceName) => ({
    kind: 'vault-login',
    vault: env.VAULT_ADDR,
    caFile: env.VAULT_CACERT,
    tokenFile: env.VAULT_K8S_TOKEN_FILE ?? '/var/run/secrets/vault/token',
    role,
  });
  rows.push({
    layer: 'vault',
    capability: `log in to its own Vault role (${service})`,
    expected: 'allow',
    probe: vaultLogin(service),
  });
  for (const other of SERVICE_NAMES.filter((s) => s !== service)) {
    const port = grantOf(other).http.port;
    rows.push(
      {
        layer: 'network',
        capability: `reach ${other}:${port}`,
        expected: networkPeers(other).includes(service) ? 'allow' : 'deny',
        probe: tcp(other, port),
      },
      {
        layer: 'vault',
        capability: `log in to ${other}'s Vault role with its own token`,
        expected: 'deny',
        probe: vaultLogin(other),
      },
    );
  }
  if (service !== 'payment-service')
    rows.push({
      layer: 'http',
      capability: 'charge a payment through payment-service',
      expected: 'deny',
      probe: {
        kind: 'http',
        method: 'POST',
        url: `http://payment-service:${grantOf('payment-service').http.port}/payments`,
        headers: { 'idempotency-key': `drill-${service}` },
        body: { amount: 1, currency: 'EUR', description: 'breach drill' },
      },
    });
  return rows;
}

function jobFor(service: ServiceName, template: PodTemplate, namespace: string): object {
  const [container] = template.spec.containers as [Container];
  const tokenVolume = (template.spec.volumes ?? []).find((v) => v.name === 'vault-token');
  const tokenMount = (container.volumeMounts ?? []).find((m) => m.name === 'vault-token');
  const trustMount = (container.volumeMounts ?? []).find((m) => m.name === 'trust');
  const trustVolume = (template.spec.volumes ?? []).find((v) => v.name === 'trust');
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: `breach-drill-${service}`, namespace, labels: { 'lpi/drill': 'true' } },
    spec: {
      backoffLimit: 0,
      ttlSecondsAfterFinished: 3600,
      template: {
        metadata: { labels: { ...template.metadata.labels, 'lpi/drill': 'true' } },
        spec: {
          serviceAccountName: template.spec.serviceAccountName,
          automountServiceAccountToken: false,
          restartPolicy: 'Never',
          securityContext: template.spec.securityContext,
          containers: [
            {
              name: 'breach-drill',
              image: container.image,
              command: ['node', `${DRILL_DIR}/judge.js`, `${DRILL_DIR}/plan-${service}.json`],
              securityContext: container.securityContext,
              resources: container.resources,
              // never ready: the Job must not receive the service's traffic
              readinessProbe: {
                exec: { command: ['node', '-e', 'process.exit(1)'] },
                periodSeconds: 30,
              },
              volumeMounts: [
                { name: 'drill', mountPath: DRILL_DIR, readOnly: true },
                ...(tokenMount ? [tokenMount] : []),
                ...(trustMount ? [trustMount] : []),
              ],
            },
          ],
          volumes: [
            { name: 'drill', configMap: { name: 'breach-drill' } },
            ...(tokenVolume ? [tokenVolume] : []),
            ...(trustVolume ? [trustVolume] : []),
          ],
        },
      },
    },
  };
}

/** The drill as Kubernetes objects (a ConfigMap and one Job per service), as YAML. */
export function renderKubernetesDrill(overlay: string, objects = renderOverlay(overlay)): string {
  const namespace = objects.find((o) => o.kind === 'Namespace')?.metadata.name ?? 'default';
  const data: Record<string, string> = {
    'probe.js': readFileSync(join(__dirname, 'compose-probe.js'), 'utf8'),
    'judge.js': readFileSync(join(__dirname, 'kubernetes-judge.js'), 'utf8'),
  };
  const jobs: object[] = [];
  for (const service of SERVICE_NAMES) {
    const deployment = objects.find((o) => o.kind === 'Deployment' && o.metadata.name === service);
    if (!deployment) throw new Error(`overlay ${overlay} has no Deployment ${service}`);
    const template = templateOf(deployment);
    const env = envOf(objects, template.spec.containers[0] as Container);
    data[`plan-${service}.json`] = JSON.stringify({ service, rows: planFor(service, env) });
    jobs.push(jobFor(service, template, namespace));
  }
  const configMap = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'breach-drill', namespace },
    data,
  };
  return [configMap, ...jobs]
    .map((o) => stringify(o, { blockQuote: 'literal', lineWidth: 0 }))
    .join('---\n');
}
