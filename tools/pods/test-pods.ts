// `npm run test:pods`: the Deployments (and the Redis and PostgreSQL StatefulSets, the
// migration Job) of the rendered local and production overlays, each container run under the
// local Docker engine with exactly its pod spec's image, env, user, read-only root,
// capabilities, no-new-privileges, resources, mounts and probes, against stand-ins on one
// network under the overlay's names: vault-dev over TLS (private CA, Kubernetes auth with a
// TokenReview stand-in, the database engine), the provider sandbox, Redis with the ACL and its
// script-loader sidecar, PostgreSQL migrated by its Job. Every pod must become ready, and a
// `checkout` caller's payment must be charged in the sandbox's ledger. Leaves nothing behind,
// also on failure.
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, setGlobalDispatcher } from 'undici';
import { SERVICE_NAMES, type ServiceName } from '@lpi/access-matrix';
import { CallerTokenSource } from '@lpi/auth';
import { renderRedisAcl } from '@lpi/messaging';
import { createDevPki, httpsCall, type DevPki } from '@lpi/testing';
import { runBootstrap, sandboxRegistrar } from '../bootstrap/bootstrap';
import type { DatabaseEngineOptions } from '../bootstrap/database-engine';
import { configureKubernetesAuth } from '../bootstrap/vault-kubernetes';
import { ensureEngine, type Engine } from '../compose/engine';
import { POSTGRES_IMAGE, ensureBaseImages } from '../compose/images';
import { run, succeeds } from '../compose/sh';
import { ComposeStack } from '../compose/stack';
import { Caller, loginCaller } from '../demo/callers';
import { type K8sObject, kubectlAvailable, renderOverlay } from '../deploy/render';
import { containerRuns, type TestValues } from './pod-spec';
import { startPod, waitReady, type RunningPod } from './pods';
import {
  TokenReviewStandIn,
  createNetwork,
  docker,
  publishedPort,
  removeAll,
  startVault,
  vaultPki,
  waitFor,
} from './stand-ins';

const ROOT = join(__dirname, '..', '..');
const NETWORK = 'lpi-pods';
const OVERLAYS = ['local', 'production'] as const;
/** The production overlay's provider endpoints, pointed at the sandbox for this test. */
const SANDBOX_ENDPOINTS = {
  PROVIDER_ISSUER: 'https://provider-sandbox:8443',
  PROVIDER_API_URL: 'https://provider-sandbox:9443',
  PROVIDER_AUDIENCE: 'https://provider-sandbox:9443/v1',
  WEBHOOK_PUBLIC_URL: 'http://webhook-service:3104/webhooks/provider',
};
const READY_MS = 5 * 60_000;
/** `npm run test:pods -- --reuse-images`: any present image is used, however old. */
const REUSE_IMAGES = process.argv.includes('--reuse-images');

const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
let stepNo = 0;
const TOTAL = 10;
const step = (title: string) =>
  console.log(`\n==> [${++stepNo}/${TOTAL}] ${title}  (${elapsed()})`);
const log = (line: string) => console.log(`    ${line}`);
const results: { check: string; ok: boolean; detail: string }[] = [];
const record = (check: string, ok: boolean, detail: string) => {
  results.push({ check, ok, detail });
  console.log(`    ${ok ? 'ok  ' : 'FAIL'} ${check}: ${detail}`);
};

const imageExists = (tag: string) => succeeds('docker', ['image', 'inspect', tag]);
const TOOLS_IMAGE = 'lpi/tools:local';

/** When the sources an image is built from last changed (the newest commit touching them). */
const sourcesChangedAt = (paths: string[]): number =>
  Number(run('git', ['log', '-1', '--format=%ct', '--', ...paths], { capture: true, quiet: true, cwd: ROOT }).stdout.trim() || 0) * 1000; // prettier-ignore
const imageCreatedAt = (tag: string): number =>
  Date.parse(docker(['image', 'inspect', '-f', '{{.Created}}', tag]));

/**
 * The project's images from deploy/docker/service.Dockerfile, built only when missing or
 * older than the last commit to their sources (CI's test:compose has just built them).
 */
function ensureProjectImages() {
  const build = ['apps', 'libs', 'deploy/docker', 'package-lock.json'];
  const wanted: [string, string, string[]][] = [
    ['lpi/vault-dev:local', 'vault', build],
    ['lpi/provider-sandbox:local', 'provider-sandbox', build],
    [TOOLS_IMAGE, 'volume-init', [...build, 'tools']],
    ...SERVICE_NAMES.map((s): [string, string, string[]] => [`lpi/${s}:local`, s, build]),
  ];
  const stale = wanted.filter(([tag, , paths]) => {
    const why = !imageExists(tag)
      ? 'missing'
      : !REUSE_IMAGES && imageCreatedAt(tag) < sourcesChangedAt(paths)
        ? 'older than its sources'
        : '';
    log(`${tag}: ${why || 'present and current'}`);
    return why !== '';
  });
  if (!stale.length) return;
  const stack = new ComposeStack(ROOT, 'lpi-pods', [
    'docker-compose.yml',
    'docker-compose.test.yml',
  ]);
  stack.exec(['build', ...stale.map(([, service]) => service)]);
}

/** Which local image each rendered image is (the overlay renames lpi/<app> and sets the tag). */
function localImageFor(rendered: string): string {
  const app = /([^/:]+)(?::[^/]*)?$/.exec(rendered)?.[1] ?? '';
  // the bootstrap image is the Dockerfile's tools stage
  if (app === 'bootstrap') return TOOLS_IMAGE;
  if (rendered === 'redis:7' || rendered === POSTGRES_IMAGE) return rendered;
  return `lpi/${app}:local`;
}

/** Tags created here (removed afterwards); a tag that existed before is left as it was. */
const retagged = new Set<string>();
function retag(objects: K8sObject[]) {
  for (const image of new Set(containerRunsImages(objects))) {
    const local = localImageFor(image);
    if (image === local || retagged.has(image)) continue;
    if (!imageExists(image)) retagged.add(image);
    docker(['tag', local, image]);
  }
}

/* eslint-disable @typescript-eslint/no-explicit-any -- rendered YAML */
const containerRunsImages = (objects: K8sObject[]): string[] =>
  objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet' || o.kind === 'Job')
    .flatMap((o) =>
      ((o as any).spec.template.spec.containers as any[]).map((c) => String(c.image)),
    );
const serviceAccounts = (objects: K8sObject[]): string[] =>
  objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((o) => String((o as any).spec.template.spec.serviceAccountName));

/* eslint-enable @typescript-eslint/no-explicit-any */

interface World {
  work: string;
  pki: DevPki;
  vaultCa: string;
  vaultUrl: string;
  rootToken: string;
  adminToken: string;
  sandboxApi: string;
  tokenReview: TokenReviewStandIn;
  secrets: TestValues['secrets'];
}

function valuesFor(w: World, overlay: string, objects: K8sObject[]): TestValues {
  const namespace = objects.find((o) => o.kind === 'Deployment')?.metadata.namespace ?? '';
  return {
    configMaps: {
      'platform-trust': { 'vault-ca.pem': w.vaultCa, 'provider-ca.pem': w.pki.caCert },
      ...(overlay === 'production' ? { 'platform-endpoints': SANDBOX_ENDPOINTS } : {}),
    },
    secrets: w.secrets,
    serviceAccountTokens: Object.fromEntries(
      serviceAccounts(objects).map((sa) => [sa, w.tokenReview.issue(namespace, sa)]),
    ),
  };
}

async function startPlatform(w: World, local: K8sObject[]): Promise<void> {
  const gateway = createNetwork(NETWORK);
  await w.tokenReview.start(gateway);
  log(`network ${NETWORK}; TokenReview stand-in at ${w.tokenReview.url} (the network's gateway)`);
  const v = vaultPki(w.work);
  w.vaultCa = v.caCert;
  // host-side calls to Vault and the sandbox trust the two test CAs only
  setGlobalDispatcher(new Agent({ connect: { ca: [w.vaultCa, w.pki.caCert] } }));
  startVault({ network: NETWORK, name: 'lpi-pods-vault', pkiDir: w.work, certFile: v.certFile, keyFile: v.keyFile, rootToken: w.rootToken }); // prettier-ignore
  log(`vault-dev as vault.vault.svc:8200 over TLS (certificate from a private test CA)`);
  // the provider: the local overlay's own sandbox Deployment, under its spec
  const sandboxRuns = containerRuns(
    local,
    valuesFor(w, 'local', local),
    (n) => n === 'provider-sandbox',
  );
  const sandbox = startPod(sandboxRuns, { prefix: 'lpi-pods', network: NETWORK, workDir: w.work, publish: [9443] }, log); // prettier-ignore
  w.vaultUrl = `https://127.0.0.1:${publishedPort('lpi-pods-vault', 8200)}`;
  w.sandboxApi = `https://127.0.0.1:${publishedPort(sandbox.containers[0]!.name, 9443)}`;
  await waitFor('vault-dev over TLS', async () => ((await fetch(`${w.vaultUrl}/v1/sys/health`)).ok ? true : undefined), READY_MS, () =>
    run('docker', ['logs', '--tail', '30', 'lpi-pods-vault'], { allowFail: true })); // prettier-ignore
  log(`vault-dev answers over TLS at ${w.vaultUrl} (trusted through the test CA only)`);
  await waitReady(sandbox, READY_MS, log);
}

/**
 * The PostgreSQL StatefulSet under its spec (reachable as `postgres` and by the Service's
 * full name, as Vault in its namespace reaches it), then the migration Job's container run
 * to its end: it must exit 0.
 */
async function startDatabase(w: World, local: K8sObject[], namespace: string) {
  const values = valuesFor(w, 'local', local);
  const postgres = startPod(containerRuns(local, values, (n) => n === 'postgres'), { prefix: 'lpi-pods', network: NETWORK, workDir: w.work, aliases: ['postgres', `postgres.${namespace}.svc`] }, log); // prettier-ignore
  await waitReady(postgres, READY_MS, log);
  const migrate = startPod(containerRuns(local, values, (n) => n === 'db-migrate'), { prefix: 'lpi-pods', network: NETWORK, workDir: w.work }, log); // prettier-ignore
  const name = migrate.containers[0]!.name;
  const exit = await waitFor('the db-migrate Job', async () => {
    const [status, code] = docker(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name]).split(' ');
    return status === 'exited' ? Number(code) : undefined;
  }, READY_MS).catch(() => -1); // prettier-ignore
  if (exit !== 0) run('docker', ['logs', '--tail', '30', name], { allowFail: true });
  record(
    'db-migrate: the Job ran the migrations and grants as the owner',
    exit === 0,
    exit === 0 ? 'exit 0' : `exit ${exit}`,
  );
}

/** The setup Job's DATABASE_ADDRESS, as Kubernetes expands it in the namespace. */
function databaseAddress(local: K8sObject[], namespace: string): string {
  const job = local.find((o) => o.kind === 'Job' && o.metadata.name === 'vault-auth-setup');
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered YAML
  const env = ((job as any)?.spec.template.spec.containers[0].env ?? []) as { name: string; value?: string }[]; // prettier-ignore
  const address = env.find((e) => e.name === 'DATABASE_ADDRESS')?.value;
  if (!address) throw new Error('the vault-auth-setup Job sets no DATABASE_ADDRESS');
  return address.replace('$(K8S_NAMESPACE)', namespace);
}

async function bootstrap(w: World, namespace: string, database: DatabaseEngineOptions) {
  await configureKubernetesAuth({ vaultAddr: w.vaultUrl, vaultToken: w.rootToken, kubernetesHost: w.tokenReview.url, namespace, database, log }); // prettier-ignore
  return runBootstrap({
    vaultAddr: w.vaultUrl,
    vaultToken: w.rootToken,
    registerClient: sandboxRegistrar(w.sandboxApi, w.adminToken, w.pki.caCert),
    // createDevPki(SERVICE_NAMES) issued one client certificate per service
    clientCertificates: w.pki.clients as Record<ServiceName, { cert: string; key: string }>,
    outDir: join(w.work, 'identities'),
    log,
  });
}

async function pay(w: World, overlay: string, caller: Caller, pods: RunningPod[]) {
  const payment = pods.find((p) => p.pod === 'payment-service');
  if (!payment) throw new Error('no payment-service pod');
  const url = `http://${payment.ip}:3101/payments`;
  const anonymous = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() }, body: '{}' }); // prettier-ignore
  record(
    `${overlay}: POST /payments without a caller token`,
    anonymous.status === 401,
    `HTTP ${anonymous.status}`,
  );
  const amount = 1000 + Math.floor(Math.random() * 9000);
  const res = await caller.post('payment-service', '/payments', `pods-${overlay}-${randomUUID()}`, {
    amount,
    currency: 'EUR',
    description: `pod specs executed (${overlay})`,
  });
  const body = (await res.json()) as { payment_id?: string; error?: { code: string } };
  record(
    `${overlay}: checkout POST /payments`,
    res.status < 300 && !!body.payment_id,
    `HTTP ${res.status} ${body.payment_id ?? body.error?.code}`,
  );
  if (!body.payment_id) return;
  const charged = await waitFor(`${overlay} payment charged`, async () => {
    const p = (await (await caller.fetch('payment-service', `/payments/${body.payment_id}`)).json()) as { status: string; provider_payment_id?: string };
    if (p.status === 'failed') throw new Error('payment failed');
    return p.status === 'succeeded' ? p : undefined;
  }, 2 * 60_000).catch(() => undefined); // prettier-ignore
  record(
    `${overlay}: payment charged`,
    !!charged?.provider_payment_id,
    charged?.provider_payment_id ?? 'not charged in 2 min',
  );
  const ledger = await httpsCall<{ payments: Record<string, unknown>[] }>(
    `${w.sandboxApi}/admin/ledger`,
    {
      ca: w.pki.caCert,
      headers: { authorization: `Bearer ${w.adminToken}` },
    },
  );
  const entry = ledger.json.payments.find((p) =>
    JSON.stringify(p).includes(String(charged?.provider_payment_id)),
  );
  record(
    `${overlay}: in the sandbox ledger`,
    !!entry && charged !== undefined,
    entry ? `${String(entry['amount'] ?? amount)} EUR` : 'absent',
  );
}

async function overlayRun(
  w: World,
  overlay: string,
  objects: K8sObject[],
  caller: () => Promise<Caller>,
) {
  const namespace = objects.find((o) => o.kind === 'Deployment')?.metadata.namespace ?? '';
  await configureKubernetesAuth({ vaultAddr: w.vaultUrl, vaultToken: w.rootToken, kubernetesHost: w.tokenReview.url, namespace }); // prettier-ignore
  log(`Vault's Kubernetes auth roles bound to namespace ${namespace}`);
  retag(objects);
  const values = valuesFor(w, overlay, objects);
  const runs = containerRuns(objects, values, (n) => SERVICE_NAMES.includes(n as ServiceName));
  const byPod = new Map<string, typeof runs>();
  for (const r of runs) byPod.set(r.pod, [...(byPod.get(r.pod) ?? []), r]);
  const prefix = `lpi-pods-${overlay}`;
  const pods = [...byPod.values()].map((c) => startPod(c, { prefix, network: NETWORK, workDir: join(w.work, overlay) }, log)); // prettier-ignore
  const ready = await Promise.allSettled(pods.map((p) => waitReady(p, READY_MS, log)));
  ready.forEach((r, i) =>
    record(
      `${overlay}: ${pods[i]!.pod} ready under its pod spec`,
      r.status === 'fulfilled',
      r.status === 'fulfilled'
        ? 'readiness and liveness probes pass'
        : String((r.reason as Error).message),
    ),
  );
  if (ready.every((r) => r.status === 'fulfilled')) {
    const c = await caller();
    await pay(w, overlay, new Caller('checkout', c.tokens, Object.fromEntries(pods.map((p) => [p.pod, `http://${p.ip}:${p.containers[0]!.run.ports[0]}`])) as Record<ServiceName, string>), pods); // prettier-ignore
  }
  const names = pods.flatMap((p) => p.containers.map((c) => c.name));
  run('docker', ['rm', '-f', ...names], { capture: true, quiet: true, allowFail: true });
}

let cleaned: Promise<void> | undefined;
/** Once, on the way out or on SIGINT/SIGTERM: containers, network, work dir, tags, dockerd. */
function cleanUp(w: World, engine: Engine | undefined): Promise<void> {
  return (cleaned ??= (async () => {
    step('clean up: containers, network, work directory, retagged images');
    const left = removeAll();
    for (const image of retagged)
      run('docker', ['image', 'rm', image], { capture: true, quiet: true, allowFail: true });
    await w.tokenReview.stop();
    rmSync(w.work, { recursive: true, force: true });
    if (left.length) record('cleanup', false, `left behind: ${left.join(', ')}`);
    else log('no container or network of the test is left');
    if (engine?.startedHere) await engine.stop();
  })());
}

async function main(): Promise<number> {
  let engine: Engine | undefined;
  const w = {
    work: mkdtempSync(join(tmpdir(), 'lpi-pods-')),
    rootToken: randomBytes(24).toString('base64url'),
    adminToken: randomBytes(32).toString('base64url'),
    tokenReview: new TokenReviewStandIn(),
  } as World;
  try {
    if (!kubectlAvailable()) throw new Error('kubectl not found (KUBECTL or /usr/bin/kubectl)');
    step('Docker engine');
    engine = await ensureEngine('/tmp/lpi-test-pods-dockerd.log', log);
    for (const signal of ['SIGINT', 'SIGTERM'] as const)
      process.once(signal, () => {
        record('test:pods', false, `interrupted by ${signal}`);
        void cleanUp(w, engine).finally(() => process.exit(130));
      });
    step('images: base stand-ins and the project images (built only when missing)');
    ensureBaseImages(join(ROOT, 'deploy/docker/service.Dockerfile'), log);
    ensureProjectImages();
    step('render the overlays (kubectl kustomize)');
    const rendered = Object.fromEntries(OVERLAYS.map((o) => [o, renderOverlay(o)])) as Record<
      (typeof OVERLAYS)[number],
      K8sObject[]
    >;
    for (const o of OVERLAYS) log(`${o}: ${containerRunsImages(rendered[o]).join(', ')}`);
    retag(rendered.local);
    step('run-time PKI; network; TokenReview stand-in; vault-dev over TLS; the sandbox pod');
    w.pki = await createDevPki(SERVICE_NAMES);
    w.secrets = {
      'provider-sandbox-tls': { 'tls.crt': w.pki.server.cert, 'tls.key': w.pki.server.key, 'client-ca.crt': w.pki.caCert, 'admin-token': w.adminToken }, // prettier-ignore
    };
    await startPlatform(w, rendered.local);
    const namespace = rendered.local.find((o) => o.kind === 'Deployment')?.metadata.namespace ?? ''; // prettier-ignore
    step(
      'PostgreSQL pod under its spec, then the migration Job (owner and Vault passwords as Secrets)',
    );
    const vaultAdminPassword = randomBytes(24).toString('base64url');
    w.secrets['postgres-owner'] = { password: randomBytes(24).toString('base64url') };
    w.secrets['postgres-vault-admin'] = { password: vaultAdminPassword };
    await startDatabase(w, rendered.local, namespace);
    step(
      'Vault: Kubernetes auth and the database engine (tools/bootstrap/vault-kubernetes.ts), the bootstrap',
    );
    const boot = await bootstrap(w, namespace, {
      address: databaseAddress(rendered.local, namespace),
      adminPassword: vaultAdminPassword,
    });
    step('Redis pod: the ACL from the matrix and the script-loader sidecar, under its spec');
    const loaderPassword = randomBytes(24).toString('base64url');
    w.secrets['redis-acl'] = {
      'users.acl': renderRedisAcl({ passwords: boot.redisPasswords, scriptLoader: { username: 'script-loader', password: loaderPassword } }), // prettier-ignore
      'script-loader-password': loaderPassword,
    };
    const redis = startPod(containerRuns(rendered.local, valuesFor(w, 'local', rendered.local), (n) => n === 'redis'), { prefix: 'lpi-pods', network: NETWORK, workDir: w.work }, log); // prettier-ignore
    await waitReady(redis, READY_MS, log);
    const loader = redis.containers.find((c) => c.run.container === 'script-loader');
    // a loader that fails is reported and the pods still run: their readiness is worth seeing
    const loaded = loader
      ? await waitFor(
          'the script loader loaded BullMQ scripts',
          async () => {
            const out = run('docker', ['logs', loader.name], { capture: true, quiet: true });
            if (/loaded \d+ of \d+/.test(out.stdout)) return true;
            if (!docker(['inspect', '-f', '{{.State.Status}}', loader.name]).startsWith('running'))
              return false;
            return undefined;
          },
          READY_MS,
        ).catch(() => false)
      : false;
    if (loader && !loaded)
      run('docker', ['logs', '--tail', '15', loader.name], { allowFail: true });
    record(
      'redis: script-loader sidecar loaded the BullMQ scripts',
      loaded,
      loaded ? 'as the script-loader ACL user' : 'not loaded (its log above)',
    );
    let caller: Promise<Caller> | undefined;
    const checkout = () =>
      (caller ??= loginCaller(w.vaultUrl, boot.callerIdentities.checkout).then(
        (token) => new Caller('checkout', new CallerTokenSource({ vaultAddr: w.vaultUrl, caller: 'checkout', vaultToken: () => token }), {} as Record<ServiceName, string>), // prettier-ignore
      ));
    for (const overlay of OVERLAYS) {
      step(`${overlay} overlay: every service pod under its rendered spec, then a payment`);
      await overlayRun(w, overlay, rendered[overlay], checkout);
    }
  } catch (error) {
    record('test:pods', false, error instanceof Error ? error.message : String(error));
  } finally {
    await cleanUp(w, engine);
  }
  const failed = results.filter((r) => !r.ok);
  console.log(`\ntest:pods report (${elapsed()}):`);
  for (const r of results) console.log(`  ${r.ok ? 'ok  ' : 'FAIL'} ${r.check}: ${r.detail}`);
  console.log(
    `\ntest:pods: ${failed.length === 0 ? 'passed' : `${failed.length} failure(s)`} in ${elapsed()}`,
  );
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
