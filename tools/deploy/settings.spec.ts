// No silent drift between what the deployments set and what the code reads: every variable a
// Kubernetes overlay or the compose file gives a service (or the Vault setup or migration Job)
// is one its config schemas read. Start-up refuses the rest by name (refuseUnknownSettings);
// this finds them before anything is deployed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { SERVICE_NAMES } from '@lpi/access-matrix';
import { SERVICE_SETTING_NAMES } from '@lpi/integration-runtime';
import { KUBERNETES_AUTH_SETTING_NAMES } from '../bootstrap/vault-kubernetes.config';
import { MIGRATE_SETTING_NAMES } from '../database/migrate';
import { REPO_ROOT, kubectlAvailable, overlayNames, renderOverlay, type K8sObject } from './render';

/** Read by Node itself, the C library or swc's loader (TS tools), not by a schema of ours. */
const RUNTIME_VARIABLES = [
  'NODE_OPTIONS',
  'MALLOC_ARENA_MAX',
  'NODE_EXTRA_CA_CERTS',
  'SWC_NATIVE_BINDING_CACHE',
];

const READERS: Record<string, readonly string[]> = {
  ...Object.fromEntries(SERVICE_NAMES.map((s) => [s, SERVICE_SETTING_NAMES])),
  'vault-auth-setup': KUBERNETES_AUTH_SETTING_NAMES,
  'db-migrate': MIGRATE_SETTING_NAMES,
};

interface Workload {
  where: string;
  reader: string;
  variables: string[];
}

function workloadsOf(objects: K8sObject[], overlay: string): Workload[] {
  return objects
    .filter((o) => (o.kind === 'Deployment' || o.kind === 'Job') && READERS[o.metadata.name])
    .map((o) => {
      const pod = (
        o['spec'] as { template: { spec: { containers: { env?: { name: string }[] }[] } } }
      ).template.spec;
      return {
        where: `${overlay}: ${o.kind}/${o.metadata.name}`,
        reader: o.metadata.name,
        variables: pod.containers.flatMap((c) => (c.env ?? []).map((e) => e.name)),
      };
    });
}

function composeWorkloads(file: string): Workload[] {
  const doc = parse(readFileSync(join(REPO_ROOT, file), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, unknown> | string[] }>;
  };
  return Object.entries(doc.services)
    .filter(([name]) => READERS[name])
    .map(([name, svc]) => ({
      where: `${file}: ${name}`,
      reader: name,
      variables: Array.isArray(svc.environment)
        ? svc.environment.map((e) => e.split('=')[0] as string)
        : Object.keys(svc.environment ?? {}),
    }));
}

/** Each variable no schema of its reader reads, named with where it is set. */
export function unreadVariables(workloads: Workload[]): string[] {
  return workloads.flatMap((w) =>
    w.variables
      .filter((v) => !READERS[w.reader]?.includes(v) && !RUNTIME_VARIABLES.includes(v))
      .map((v) => `${w.where} sets ${v}`),
  );
}

describe('settings set by the deployments are settings the code reads', () => {
  const composeFiles = ['docker-compose.yml', 'docker-compose.test.yml'];

  it('the check finds a variable no schema reads (it can fail)', () => {
    const drift = [{ where: 'x', reader: 'payment-service', variables: ['PROVIDER_AUDIENCE_URL'] }];
    expect(unreadVariables(drift)).toEqual(['x sets PROVIDER_AUDIENCE_URL']);
  });

  it.each(composeFiles)('%s', (file) => {
    const workloads = composeWorkloads(file);
    if (file === 'docker-compose.yml')
      expect(workloads.map((w) => w.reader).sort()).toEqual(
        [...SERVICE_NAMES, 'db-migrate'].sort(),
      );
    expect(unreadVariables(workloads)).toEqual([]);
  });

  (kubectlAvailable() ? it.each(overlayNames()) : it.skip.each(overlayNames()))(
    'Kubernetes overlay %s',
    (overlay) => {
      const workloads = workloadsOf(renderOverlay(overlay), overlay);
      expect(workloads.map((w) => w.reader).sort()).toEqual(
        [...SERVICE_NAMES, 'vault-auth-setup', 'db-migrate'].sort(),
      );
      expect(unreadVariables(workloads)).toEqual([]);
    },
  );
});
