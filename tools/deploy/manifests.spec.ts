import { Deployment, StatefulSet } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Service, ServiceAccount } from 'kubernetes-models/v1';
import { DATABASE_NAME, SERVICE_NAMES, grantOf, type ServiceName } from '@lpi/access-matrix';
import { type K8sObject, kubectlAvailable, overlayNames, renderOverlay } from './render';

type Validator = new (data: never) => { validate(): void };
const SCHEMAS: Record<string, Validator> = {
  'apps/v1/Deployment': Deployment as unknown as Validator,
  'apps/v1/StatefulSet': StatefulSet as unknown as Validator,
  'batch/v1/Job': Job as unknown as Validator,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy as unknown as Validator,
  'networking.k8s.io/v1/Ingress': Ingress as unknown as Validator,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as unknown as Validator,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding as unknown as Validator,
  'v1/Namespace': Namespace as unknown as Validator,
  'v1/ConfigMap': ConfigMap as unknown as Validator,
  'v1/Service': Service as unknown as Validator,
  'v1/ServiceAccount': ServiceAccount as unknown as Validator,
};

interface PodSpecLike {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; seccompProfile?: { type?: string } };
  containers: {
    name: string;
    env?: { name: string; value?: string }[];
    securityContext?: {
      allowPrivilegeEscalation?: boolean;
      readOnlyRootFilesystem?: boolean;
      capabilities?: { drop?: string[] };
    };
    resources?: { requests?: object; limits?: object };
    livenessProbe?: { httpGet?: { path: string } };
    readinessProbe?: { httpGet?: { path: string } };
  }[];
  volumes?: {
    name: string;
    projected?: { sources: { serviceAccountToken?: { audience?: string } }[] };
    secret?: { secretName: string };
  }[];
}
interface PeerLike {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: { matchLabels?: Record<string, string> };
  ipBlock?: { cidr: string };
}
interface NetworkPolicySpecLike {
  podSelector: { matchLabels?: Record<string, string> };
  policyTypes?: string[];
  ingress?: { from?: PeerLike[]; ports?: { port?: number | string }[] }[];
  egress?: { to?: PeerLike[]; ports?: { port?: number }[] }[];
}

const podSpecOf = (obj: K8sObject): PodSpecLike =>
  (obj['spec'] as { template: { spec: PodSpecLike } }).template.spec;
const find = (objects: K8sObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata.name === name);
const policySpec = (objects: K8sObject[], name: string): NetworkPolicySpecLike => {
  const policy = find(objects, 'NetworkPolicy', name);
  if (!policy) throw new Error(`NetworkPolicy ${name} is missing`);
  return policy['spec'] as NetworkPolicySpecLike;
};
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'Job']);

const describeIfKubectl = kubectlAvailable() ? describe : describe.skip;
if (!kubectlAvailable())
  console.warn('tools/deploy: kubectl not found, skipping the Kubernetes manifest checks');

describeIfKubectl('deploy/k8s overlays', () => {
  const overlays = overlayNames();
  const rendered = new Map(overlays.map((o) => [o, renderOverlay(o)] as const));
  const each = (name: string, fn: (objects: K8sObject[], overlay: string) => void) =>
    it.each(overlays)(`${name} (%s)`, (overlay) => fn(rendered.get(overlay) ?? [], overlay));

  it('the schema check rejects a broken object (it can fail)', () => {
    const broken = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'x' }, spec: {} };
    expect(() => new Deployment(broken as never).validate()).toThrow();
  });

  it('has the local and production overlays', () => {
    expect(overlays).toEqual(['local', 'production']);
  });

  each('every object validates against the Kubernetes schema', (objects) => {
    expect(objects.length).toBeGreaterThan(0);
    for (const obj of objects) {
      const Model = SCHEMAS[`${obj.apiVersion}/${obj.kind}`];
      if (!Model) throw new Error(`no schema registered for ${obj.apiVersion}/${obj.kind}`);
      expect(() => new Model(obj as never).validate()).not.toThrow();
    }
  });

  each(
    'one name everywhere: Deployment = Service = ServiceAccount = PDB = Vault role',
    (objects) => {
      for (const service of SERVICE_NAMES) {
        const deployment = find(objects, 'Deployment', service);
        expect(deployment).toBeDefined();
        expect(find(objects, 'Service', service)).toBeDefined();
        expect(find(objects, 'ServiceAccount', service)).toBeDefined();
        expect(find(objects, 'PodDisruptionBudget', service)).toBeDefined();
        const pod = podSpecOf(deployment as K8sObject);
        expect(pod.serviceAccountName).toBe(service);
        const env = Object.fromEntries(pod.containers[0]?.env?.map((e) => [e.name, e.value]) ?? []);
        expect(env['VAULT_K8S_ROLE']).toBe(service);
        expect(env['PORT']).toBe(String(grantOf(service).http.port));
      }
      const appDeployments = objects
        .filter((o) => o.kind === 'Deployment' && o.metadata.name !== 'provider-sandbox')
        .map((o) => o.metadata.name)
        .sort();
      expect(appDeployments).toEqual([...SERVICE_NAMES].sort());
    },
  );

  each(
    'the Vault roles are written by the setup code from the matrix, with a file token',
    (objects) => {
      // the roles themselves (role = SA = policy, this namespace, audience vault) are asserted
      // against vault-dev by tools/bootstrap/vault-kubernetes.spec.ts
      const job = find(objects, 'Job', 'vault-auth-setup') as K8sObject;
      const [container] = podSpecOf(job).containers as unknown as {
        image: string;
        command: string[];
        env: { name: string; valueFrom?: { secretKeyRef?: unknown } }[];
      }[];
      expect(container.image).toMatch(/lpi\/bootstrap:/);
      expect(container.command.join(' ')).toContain('tools/bootstrap/vault-kubernetes.ts');
      expect(container.env.map((e) => e.name)).toContain('VAULT_TOKEN_FILE');
      expect(container.env.some((e) => e.valueFrom?.secretKeyRef)).toBe(false);
      const binding = find(objects, 'ClusterRoleBinding', 'vault-tokenreview') as K8sObject;
      expect(binding['roleRef']).toMatchObject({
        kind: 'ClusterRole',
        name: 'system:auth-delegator',
      });
    },
  );

  each('a Namespace object for the overlay, under Pod Security "restricted"', (objects) => {
    const namespaces = objects.filter((o) => o.kind === 'Namespace');
    expect(namespaces).toHaveLength(1);
    const ns = namespaces[0] as K8sObject;
    expect(ns.metadata.labels?.['pod-security.kubernetes.io/enforce']).toBe('restricted');
    for (const o of objects.filter(
      (x) => x.kind !== 'Namespace' && x.kind !== 'ClusterRoleBinding',
    ))
      expect({ object: `${o.kind}/${o.metadata.name}`, ns: o.metadata.namespace }).toEqual({
        object: `${o.kind}/${o.metadata.name}`,
        ns: ns.metadata.name,
      });
  });

  each(
    'replicated services may lose one pod at a time and spread over nodes and zones',
    (objects) => {
      for (const service of SERVICE_NAMES) {
        const pdb = find(objects, 'PodDisruptionBudget', service) as K8sObject;
        expect(pdb['spec']).toEqual({
          maxUnavailable: 1,
          selector: { matchLabels: { app: service } },
        });
        const pod = podSpecOf(find(objects, 'Deployment', service) as K8sObject) as PodSpecLike & {
          topologySpreadConstraints?: { topologyKey: string }[];
          terminationGracePeriodSeconds?: number;
        };
        expect(pod.topologySpreadConstraints?.map((c) => c.topologyKey)).toEqual([
          'kubernetes.io/hostname',
          'topology.kubernetes.io/zone',
        ]);
        expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(35);
      }
    },
  );

  each('every workload is hardened, probed and bounded', (objects) => {
    for (const obj of objects.filter((o) => WORKLOADS.has(o.kind))) {
      const pod = podSpecOf(obj);
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      for (const container of pod.containers) {
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.resources?.requests).toBeDefined();
        expect(container.resources?.limits).toBeDefined();
      }
    }
  });

  each(
    'services probe /health/live and /health/ready and project only the Vault-audience token',
    (objects) => {
      for (const service of SERVICE_NAMES) {
        const pod = podSpecOf(find(objects, 'Deployment', service) as K8sObject);
        const [container] = pod.containers;
        expect(container?.livenessProbe?.httpGet?.path).toBe('/health/live');
        expect(container?.readinessProbe?.httpGet?.path).toBe('/health/ready');
        const audiences = (pod.volumes ?? []).flatMap((v) =>
          (v.projected?.sources ?? []).map((s) => s.serviceAccountToken?.audience),
        );
        expect(audiences).toEqual(['vault']);
      }
    },
  );

  each(
    'Redis persists with appendonly, never evicts, and loads the ACL from a Secret',
    (objects) => {
      const redis = find(objects, 'StatefulSet', 'redis') as K8sObject;
      const args = (podSpecOf(redis).containers[0] as { args?: string[] }).args ?? [];
      expect(args.join(' ')).toContain('--appendonly yes');
      expect(args.join(' ')).toContain('--maxmemory-policy noeviction');
      expect(args.join(' ')).toContain('--aclfile');
      expect(
        (redis['spec'] as { volumeClaimTemplates?: unknown[] }).volumeClaimTemplates,
      ).toHaveLength(1);
      const volumes = podSpecOf(redis).volumes as { secret?: { secretName: string } }[];
      expect(volumes.some((v) => v.secret?.secretName === 'redis-acl')).toBe(true);
    },
  );

  each(
    'Redis runs the script loader as a sidecar: --watch, its own ACL user, its password from a file',
    (objects) => {
      const pod = podSpecOf(find(objects, 'StatefulSet', 'redis') as K8sObject);
      type C = {
        name: string;
        command?: string[];
        env?: { name: string; value?: string }[];
        volumeMounts?: { name: string }[];
      };
      const loader = (pod.containers as C[]).find((c) => c.name === 'script-loader');
      expect(loader?.command?.slice(-2)).toEqual(['tools/redis/load-scripts.ts', '--watch']);
      const env = Object.fromEntries((loader?.env ?? []).map((e) => [e.name, e.value]));
      expect(env).toMatchObject({
        REDIS_HOST: '127.0.0.1',
        REDIS_LOADER_USERNAME: 'script-loader',
      });
      const volumes = pod.volumes as {
        name: string;
        secret?: { secretName: string; items?: { key: string; path: string }[] };
      }[];
      const mounted = (c: C | undefined) =>
        (c?.volumeMounts ?? []).flatMap((m) => volumes.filter((v) => v.name === m.name));
      // each container sees its own key of redis-acl and nothing else of it
      expect(mounted(loader).flatMap((v) => v.secret?.items ?? [])).toEqual([
        { key: 'script-loader-password', path: 'password' },
      ]);
      const redis = (pod.containers as C[]).find((c) => c.name === 'redis');
      expect(mounted(redis).flatMap((v) => v.secret?.items ?? [])).toEqual([
        { key: 'users.acl', path: 'users.acl' },
      ]);
      expect(env['REDIS_LOADER_PASSWORD_FILE']).toBe('/etc/redis/loader/password');
    },
  );

  each(
    'network: default deny plus exactly the flows the access matrix implies',
    (objects, overlay) => {
      expect(policySpec(objects, 'default-deny')).toEqual({
        podSelector: {},
        policyTypes: ['Ingress', 'Egress'],
      });
      const dns = policySpec(objects, 'allow-dns');
      expect(dns.egress?.flatMap((e) => e.ports?.map((p) => p.port))).toEqual([53, 53]);
      const redisIngress = policySpec(objects, 'redis').ingress ?? [];
      expect(redisIngress).toHaveLength(1);
      expect(redisIngress[0]?.from).toEqual([
        { podSelector: { matchLabels: { 'lpi/tier': 'service' } } },
      ]);

      const peerFor = (caller: string): PeerLike =>
        caller === 'edge'
          ? { namespaceSelector: { matchLabels: { 'lpi/role': 'edge' } } }
          : caller === 'provider'
            ? { podSelector: { matchLabels: { 'lpi/role': 'provider' } } }
            : { podSelector: { matchLabels: { app: caller } } };
      for (const service of SERVICE_NAMES as readonly ServiceName[]) {
        const { port, callers } = grantOf(service).http;
        const spec = policySpec(objects, service);
        expect(spec.podSelector.matchLabels).toEqual({ app: service });
        // in production the real provider's webhooks arrive through the edge
        const viaEdge =
          overlay === 'production' && callers.includes('provider') && !callers.includes('edge')
            ? [{ from: [peerFor('edge')], ports: [{ protocol: 'TCP', port }] }]
            : [];
        expect(spec.ingress).toEqual([
          { from: callers.map(peerFor), ports: [{ protocol: 'TCP', port }] },
          ...viaEdge,
        ]);
        const egressPorts = (spec.egress ?? []).map((e) => (e.ports ?? []).map((p) => p.port));
        expect(egressPorts).toEqual([[6379], [8200], [5432], [443, 8443, 9443]]);
        expect(spec.egress?.[2]?.to).toEqual([
          { podSelector: { matchLabels: { app: 'postgres' } } },
        ]);
      }
      // Nothing but the declared policies exists: a new one must be added here on purpose.
      const names = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => o.metadata.name);
      const expected = [
        'default-deny',
        'allow-dns',
        'redis',
        'postgres',
        'db-migrate',
        'vault-auth-setup',
        'metrics-scrape',
        ...SERVICE_NAMES,
      ];
      const withSandbox = names.includes('provider-sandbox')
        ? [...expected, 'provider-sandbox']
        : expected;
      expect(names.sort()).toEqual(withSandbox.sort());
    },
  );

  each('every service pod is annotated for Prometheus: its API port, /metrics', (objects) => {
    for (const service of SERVICE_NAMES) {
      const template = (
        find(objects, 'Deployment', service)?.['spec'] as {
          template: { metadata: { annotations?: Record<string, string> } };
        }
      ).template;
      expect({ service, annotations: template.metadata.annotations }).toEqual({
        service,
        annotations: {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(grantOf(service).http.port),
          'prometheus.io/path': '/metrics',
        },
      });
    }
  });

  each('the monitoring namespace may reach the services on their API port only', (objects) => {
    expect(policySpec(objects, 'metrics-scrape')).toEqual({
      podSelector: { matchLabels: { 'lpi/tier': 'service' } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ namespaceSelector: { matchLabels: { 'lpi/role': 'monitoring' } } }],
          ports: [{ protocol: 'TCP', port: 'http' }],
        },
      ],
    });
  });

  it('only the local overlay ships the provider sandbox', () => {
    expect(find(rendered.get('local') ?? [], 'Deployment', 'provider-sandbox')).toBeDefined();
    expect(
      find(rendered.get('production') ?? [], 'Deployment', 'provider-sandbox'),
    ).toBeUndefined();
  });

  it('production runs two replicas of each service (reporting-service keeps its state in PostgreSQL)', () => {
    const replicas = (name: string) =>
      (find(rendered.get('production') ?? [], 'Deployment', name)?.['spec'] as { replicas: number })
        .replicas;
    for (const service of SERVICE_NAMES)
      expect({ service, replicas: replicas(service) }).toEqual({ service, replicas: 2 });
  });

  it('the sandbox may call only webhook-service, on its port', () => {
    const spec = policySpec(rendered.get('local') ?? [], 'provider-sandbox');
    expect(spec.egress).toEqual([
      {
        to: [{ podSelector: { matchLabels: { app: 'webhook-service' } } }],
        ports: [{ protocol: 'TCP', port: grantOf('webhook-service').http.port }],
      },
    ]);
  });

  each(
    "PostgreSQL: the official image, pinned, its owner's password from the set-up's Secret as a file",
    (objects) => {
      const postgres = find(objects, 'StatefulSet', 'postgres') as K8sObject;
      const pod = podSpecOf(postgres) as PodSpecLike & {
        securityContext: { runAsUser?: number };
      };
      const [container] = pod.containers as unknown as {
        image: string;
        env: { name: string; value?: string; valueFrom?: unknown }[];
        volumeMounts: { name: string; mountPath: string }[];
      }[];
      expect(container?.image).toMatch(/^postgres:\d+$/);
      expect(pod.securityContext.runAsUser).toBe(999);
      expect(Object.fromEntries(container?.env.map((e) => [e.name, e.value]) ?? [])).toEqual({
        POSTGRES_USER: 'lpi_owner',
        POSTGRES_DB: DATABASE_NAME,
        POSTGRES_PASSWORD_FILE: '/etc/postgres/owner/password',
        PGDATA: '/var/lib/postgresql/data/pgdata',
      });
      expect((pod.volumes ?? []).filter((v) => v.secret).map((v) => v.secret?.secretName)).toEqual([
        'postgres-owner',
      ]);
      expect(
        (postgres['spec'] as { volumeClaimTemplates?: unknown[] }).volumeClaimTemplates,
      ).toHaveLength(1);
      expect(find(objects, 'Service', 'postgres')).toBeDefined();
      // only the services, Vault and the migration reach it
      expect(policySpec(objects, 'postgres')).toEqual({
        podSelector: { matchLabels: { app: 'postgres' } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              { podSelector: { matchLabels: { 'lpi/tier': 'service' } } },
              { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'vault' } } },
              { podSelector: { matchLabels: { app: 'db-migrate' } } },
            ],
            ports: [{ protocol: 'TCP', port: 5432 }],
          },
        ],
      });
    },
  );

  each(
    'the migration Job runs as the owner from files, and reaches PostgreSQL alone',
    (objects) => {
      const job = find(objects, 'Job', 'db-migrate') as K8sObject;
      const pod = podSpecOf(job) as PodSpecLike & {
        volumes: { secret?: { secretName: string } }[];
      };
      const [container] = pod.containers as unknown as {
        image: string;
        command: string[];
        env: { name: string; value?: string; valueFrom?: unknown }[];
      }[];
      expect(container?.image).toMatch(/lpi\/bootstrap:/);
      expect(container?.command.join(' ')).toContain('tools/database/migrate.ts');
      const env = Object.fromEntries(container?.env.map((e) => [e.name, e.value]) ?? []);
      expect(env['DATABASE_URL']).toBe(`postgres://lpi_owner@postgres:5432/${DATABASE_NAME}`);
      expect(env['DATABASE_OWNER_PASSWORD_FILE']).toBeDefined();
      expect(env['DATABASE_VAULT_ADMIN_PASSWORD_FILE']).toBeDefined();
      expect(container?.env.some((e) => e.valueFrom)).toBe(false);
      expect((pod.volumes ?? []).flatMap((v) => (v.secret ? [v.secret.secretName] : []))).toEqual([
        'postgres-owner',
        'postgres-vault-admin',
      ]);
      expect(policySpec(objects, 'db-migrate').egress).toEqual([
        {
          to: [{ podSelector: { matchLabels: { app: 'postgres' } } }],
          ports: [{ protocol: 'TCP', port: 5432 }],
        },
      ]);
    },
  );

  each(
    "Vault's database engine is set up with lpi_vault_admin's password from a file",
    (objects) => {
      const job = find(objects, 'Job', 'vault-auth-setup') as K8sObject;
      const pod = podSpecOf(job) as PodSpecLike & {
        volumes: { secret?: { secretName: string } }[];
      };
      const env = Object.fromEntries(pod.containers[0]?.env?.map((e) => [e.name, e.value]) ?? []);
      // Vault runs in its own namespace: it reaches PostgreSQL by the Service's full name
      expect(env['DATABASE_ADDRESS']).toBe('postgres.$(K8S_NAMESPACE).svc:5432');
      expect(env['DATABASE_VAULT_ADMIN_PASSWORD_FILE']).toBe(
        '/var/run/secrets/postgres-vault-admin/password',
      );
      expect(
        (pod.volumes ?? []).flatMap((v) => (v.secret ? [v.secret.secretName] : [])).sort(),
      ).toEqual(['postgres-vault-admin', 'vault-admin-token']);
    },
  );

  each('every service finds PostgreSQL through platform-endpoints', (objects) => {
    const endpoints = objects.find(
      (o) => o.kind === 'ConfigMap' && o.metadata.name.startsWith('platform-endpoints'),
    ) as K8sObject & { data: Record<string, string> };
    expect(endpoints.data['DATABASE_HOST']).toBe('postgres');
    expect(endpoints.data['DATABASE_PORT']).toBe('5432');
    for (const service of SERVICE_NAMES) {
      const [container] = podSpecOf(find(objects, 'Deployment', service) as K8sObject)
        .containers as unknown as {
        env: { name: string; valueFrom?: { configMapKeyRef?: { key: string } } }[];
      }[];
      const keys = container?.env
        .filter((e) => e.name.startsWith('DATABASE_'))
        .map((e) => [e.name, e.valueFrom?.configMapKeyRef?.key]);
      expect({ service, keys }).toEqual({
        service,
        keys: [
          ['DATABASE_HOST', 'DATABASE_HOST'],
          ['DATABASE_PORT', 'DATABASE_PORT'],
        ],
      });
    }
  });

  each('no Secret objects are rendered (secrets come from Vault at run time)', (objects) => {
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
  });
});
