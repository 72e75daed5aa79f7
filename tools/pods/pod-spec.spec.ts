import { SERVICE_NAMES } from '@lpi/access-matrix';
import { kubectlAvailable, renderOverlay, type K8sObject } from '../deploy/render';
import { PodSpecUnsupported, containerRuns, type TestValues } from './pod-spec';

const values: TestValues = {
  configMaps: { 'platform-trust': { 'vault-ca.pem': 'V', 'provider-ca.pem': 'P' } },
  secrets: {
    'provider-sandbox-tls': {
      'tls.crt': 'c',
      'tls.key': 'k',
      'client-ca.crt': 'ca',
      'admin-token': 't',
    },
    'redis-acl': { 'users.acl': 'acl', 'script-loader-password': 'pw' },
  },
  serviceAccountTokens: Object.fromEntries(
    [...SERVICE_NAMES, 'redis', 'provider-sandbox'].map((s) => [s, `token-of-${s}`]),
  ),
};

const describeIfKubectl = kubectlAvailable() ? describe : describe.skip;

describeIfKubectl('pod specs as docker run settings', () => {
  let local: K8sObject[];
  beforeAll(() => {
    local = renderOverlay('local');
  });

  it('derives the hardened settings, env and mounts of a service from its rendered spec', () => {
    const [pay] = containerRuns(local, values, (n) => n === 'payment-service');
    expect(pay).toMatchObject({
      user: { uid: 10001, gid: 10001, fsGroup: 10001 },
      readOnlyRoot: true,
      dropAll: true,
      noNewPrivileges: true,
      memoryBytes: 384 * 1024 ** 2,
      cpus: 0.5,
      readiness: { kind: 'http', port: 3101, path: '/health/ready' },
    });
    // configMapKeyRef resolved from the rendered (hash-suffixed) platform-endpoints
    expect(pay?.env['VAULT_ADDR']).toBe('https://vault.vault.svc:8200');
    expect(pay?.env['VAULT_CACERT']).toBe('/etc/lpi/ca/vault-ca.pem');
    const files = Object.fromEntries(
      (pay?.mounts ?? []).map((m) => [m.path, m.kind === 'files' ? m.files : m.kind]),
    );
    expect(files).toEqual({
      '/var/run/secrets/vault': { token: 'token-of-payment-service' },
      '/etc/lpi/ca': { 'vault-ca.pem': 'V', 'provider-ca.pem': 'P' },
      '/tmp': 'tmpfs',
    });
  });

  it('follows a manifest change: a writable root or a kept capability is what runs', () => {
    const changed = structuredClone(local);
    const dep = changed.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'refund-service',
    );
    const c = (dep as unknown as { spec: { template: { spec: { containers: { securityContext: Record<string, unknown> }[] } } } }).spec.template.spec.containers[0]!; // prettier-ignore
    c.securityContext = { ...c.securityContext, readOnlyRootFilesystem: false, capabilities: {} };
    const [refund] = containerRuns(changed, values, (n) => n === 'refund-service');
    expect(refund).toMatchObject({ readOnlyRoot: false, dropAll: false });
  });

  it('gives each Redis container only its own key of redis-acl', () => {
    const runs = containerRuns(local, values, (n) => n === 'redis');
    const secretFiles = (name: string) =>
      runs
        .find((r) => r.container === name)
        ?.mounts.flatMap((m) => (m.kind === 'files' ? Object.keys(m.files) : []));
    expect(secretFiles('redis')).toEqual(['users.acl']);
    expect(secretFiles('script-loader')).toEqual(['password']);
  });

  it('refuses what it cannot run faithfully instead of skipping it', () => {
    expect(() =>
      containerRuns(local, { ...values, secrets: {} }, (n) => n === 'provider-sandbox'),
    ).toThrow(PodSpecUnsupported);
  });
});
