// The breach drill's Kubernetes target: the rendered Jobs stand where the services stand
// (labels, ServiceAccount, projected Vault token) and never take their traffic; the judge that
// runs inside them observes and holds each row against the matrix, for real (a TCP listener,
// a closed port, and Vault's Kubernetes login against vault-dev over TLS).
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Job } from 'kubernetes-models/batch/v1';
import { ConfigMap } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { SERVICE_NAMES } from '@lpi/access-matrix';
import {
  createDevPki,
  freePort,
  startTokenReview,
  startVaultDev,
  type DevPki,
  type TokenReviewStandIn,
  type VaultDevHandle,
} from '@lpi/testing';
import { configureKubernetesAuth } from '../../bootstrap/vault-kubernetes';
import { kubectlAvailable, overlayNames, renderOverlay, type K8sObject } from '../../deploy/render';
import { renderKubernetesDrill, type PlannedRow } from './kubernetes';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const run = promisify(execFile);
const describeIfKubectl = kubectlAvailable() ? describe : describe.skip;

describeIfKubectl('the drill rendered as Jobs', () => {
  it.each(overlayNames())(
    '%s: one Job per service, in its place, out of its traffic',
    (overlay) => {
      const objects = renderOverlay(overlay);
      const docs = parseAllDocuments(renderKubernetesDrill(overlay, objects)).map(
        (d) => d.toJS() as Json,
      );
      const configMap = docs.find((d) => d.kind === 'ConfigMap') as Json;
      expect(() => new ConfigMap(configMap as never).validate()).not.toThrow();
      for (const service of SERVICE_NAMES) {
        const job = docs.find((d) => d.metadata.name === `breach-drill-${service}`) as Json;
        expect(() => new Job(job as never).validate()).not.toThrow();
        const deployment = objects.find(
          (o) => o.kind === 'Deployment' && o.metadata.name === service,
        ) as K8sObject;
        const pod = (deployment['spec'] as Json).template;
        expect(job.spec.template.metadata.labels).toMatchObject(pod.metadata.labels);
        expect(job.spec.template.spec.serviceAccountName).toBe(service);
        expect(job.spec.template.spec.volumes).toContainEqual(
          pod.spec.volumes.find((v: Json) => v.name === 'vault-token'),
        );
        expect(job.spec.template.spec.containers[0].readinessProbe).toBeDefined();
        const plan = JSON.parse(configMap.data[`plan-${service}.json`]) as { rows: PlannedRow[] };
        const row = (capability: string) => plan.rows.find((r) => r.capability === capability);
        expect(row(`log in to its own Vault role (${service})`)?.expected).toBe('allow');
        if (service === 'reporting-service') {
          expect(row('reach payment-service:3101')?.expected).toBe('deny');
          expect(row('charge a payment through payment-service')?.expected).toBe('deny');
          expect(row("log in to payment-service's Vault role with its own token")?.expected).toBe(
            'deny',
          );
        }
      }
      expect(docs.some((d) => d.kind === 'Secret')).toBe(false);
    },
  );
});

describe('the judge inside a drill Job', () => {
  let dir: string;
  let listener: Server;
  let open: number;
  let closed: number;
  let pki: DevPki;
  let vault: VaultDevHandle;
  let review: TokenReviewStandIn;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'drill-judge-'));
    copyFileSync(join(__dirname, 'compose-probe.js'), join(dir, 'probe.js'));
    copyFileSync(join(__dirname, 'kubernetes-judge.js'), join(dir, 'judge.js'));
    listener = createServer((s) => s.end());
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    open = (listener.address() as { port: number }).port;
    closed = await freePort();
    pki = await createDevPki();
    vault = await startVaultDev({ tls: { ...pki.server, ca: pki.caCert } });
    review = await startTokenReview({
      'sa-reporting': 'system:serviceaccount:lpi:reporting-service',
    });
    writeFileSync(join(dir, 'ca.pem'), pki.caCert);
    writeFileSync(join(dir, 'token'), 'sa-reporting');
    await configureKubernetesAuth({
      vaultAddr: vault.addr,
      vaultCaCert: pki.caCert,
      vaultToken: vault.rootToken,
      kubernetesHost: review.url,
      namespace: 'lpi',
    });
  });
  afterAll(async () => {
    listener?.close();
    await review?.stop();
    await vault?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // asynchronous: the TokenReview stand-in Vault calls during a login lives in this process
  const judge = async (rows: PlannedRow[]) => {
    writeFileSync(join(dir, 'plan.json'), JSON.stringify({ service: 'reporting-service', rows }));
    try {
      const { stdout } = await run(process.execPath, [
        join(dir, 'judge.js'),
        join(dir, 'plan.json'),
      ]);
      return { code: 0, out: stdout };
    } catch (err) {
      const e = err as { code: number; stdout: string };
      return { code: e.code, out: e.stdout };
    }
  };
  const login = (role: string) => ({
    kind: 'vault-login',
    vault: vault.addr,
    caFile: join(dir, 'ca.pem'),
    tokenFile: join(dir, 'token'),
    role,
  });

  it('holds what it observes against what the matrix expects, and passes when they agree', async () => {
    const r = await judge([
      {
        layer: 'network',
        capability: 'open',
        expected: 'allow',
        probe: { kind: 'tcp', host: '127.0.0.1', port: open },
      },
      {
        layer: 'network',
        capability: 'closed',
        expected: 'deny',
        probe: { kind: 'tcp', host: '127.0.0.1', port: closed },
      },
      {
        layer: 'vault',
        capability: 'own role',
        expected: 'allow',
        probe: login('reporting-service'),
      },
      {
        layer: 'vault',
        capability: 'other role',
        expected: 'deny',
        probe: login('payment-service'),
      },
    ]);
    expect(r.out).toContain('{"service":"reporting-service","rows":4,"failed":0}');
    expect(r.code).toBe(0);
    expect(r.out).not.toContain('sa-reporting');
  });

  it('fails the Job when an observation contradicts the matrix', async () => {
    const r = await judge([
      {
        layer: 'network',
        capability: 'closed but expected open',
        expected: 'allow',
        probe: { kind: 'tcp', host: '127.0.0.1', port: closed },
      },
      {
        layer: 'vault',
        capability: 'other role expected',
        expected: 'allow',
        probe: login('payment-service'),
      },
    ]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('"failed":2');
  });
});
