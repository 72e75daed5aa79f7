import { spawn } from 'node:child_process';
import { openSync, closeSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { bullQueueName, type ServiceName } from '@lpi/access-matrix';
import { freePort, waitFor } from '@lpi/testing';
import { runBootstrap, sandboxRegistrar } from '../bootstrap/bootstrap';
import { startStack, type Stack } from '../demo/stack';

// payment-shutdown: SIGTERM reaches a payment-service process while provider calls are in
// flight. Its readiness goes down, its workers stop taking jobs, the jobs in flight finish,
// it exits 0; every payment is charged exactly once and none is lost.
jest.setTimeout(300_000);

const GRACE_MS = 20_000;
let s: Stack;
beforeAll(async () => {
  s = await startStack({ rateLimitPerMinute: 6000 });
});
afterAll(async () => {
  await s?.stop();
});

/** Fresh wrapped secret-ids (single use) for every service, as a redeploy gets. */
const rebootstrap = () =>
  runBootstrap({
    vaultAddr: s.vault.addr,
    vaultToken: s.vault.rootToken,
    registerClient: sandboxRegistrar(s.sandbox.apiBaseUrl, s.sandbox.adminToken, s.sandbox.caCert),
    clientCertificates: s.pki.clients as Record<ServiceName, { cert: string; key: string }>,
    outDir: join(s.dir, 'identities'),
  });

/** payment-service as our own child, so the test sees its exit code. */
async function startPaymentService(port: number, logFile: string) {
  const ids = join(s.dir, 'identities', 'payment-service');
  const fd = openSync(logFile, 'a');
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', 'apps/payment-service/src/main.ts'],
    {
      cwd: join(__dirname, '..', '..'),
      stdio: ['ignore', fd, fd],
      env: {
        PATH: process.env.PATH ?? '',
        NODE_NO_WARNINGS: '1',
        PORT: String(port),
        REDIS_PORT: String(s.redis.port),
        DATABASE_HOST: s.postgres.host,
        DATABASE_PORT: String(s.postgres.port),
        PROVIDER_ISSUER: s.sandbox.issuer,
        PROVIDER_API_URL: s.sandbox.apiBaseUrl,
        PROVIDER_CA_FILE: join(s.dir, 'ca.crt'),
        PROVIDER_RATE_LIMIT_PER_MINUTE: '6000',
        VAULT_ADDR: s.vault.addr,
        VAULT_ROLE_ID_FILE: join(ids, 'role-id'),
        VAULT_WRAPPED_SECRET_ID_FILE: join(ids, 'wrapped-secret-id'),
        QUEUE_CONCURRENCY: '8',
        SHUTDOWN_GRACE_MS: String(GRACE_MS),
      },
    },
  );
  closeSync(fd);
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    'payment-service to become ready',
    async () =>
      (await fetch(`${url}/health/ready`).catch(() => undefined))?.status === 200
        ? true
        : undefined,
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  return { child, exited, url };
}

it('SIGTERM while provider calls are in flight: readiness down, jobs finish, exit 0, every payment charged exactly once', async () => {
  // our own payment-service replaces the stack's for the drill
  await s.services['payment-service'].process.kill('SIGTERM');
  await rebootstrap();
  const logFile = join(mkdtempSync(join(tmpdir(), 'lpi-shutdown-')), 'payment-service.log');
  const svc = await startPaymentService(await freePort(), logFile);

  // the provider records each charge, then waits before answering: calls stay in flight
  await s.sandbox.admin.setFault({ response_delay_ms: 4000 });
  const ids: string[] = [];
  for (let i = 1; i <= 12; i += 1) {
    const res = await fetch(`${svc.url}/payments`, {
      method: 'POST',
      headers: {
        authorization: await s.callers.checkout.tokens.authorization('payment-service'),
        'content-type': 'application/json',
        'idempotency-key': `sigterm-${i}`,
      },
      body: JSON.stringify({ amount: 1000 + i, currency: 'EUR' }),
    });
    expect(res.status).toBe(202);
    ids.push(((await res.json()) as { payment_id: string }).payment_id);
  }
  const charged = async () =>
    new Set(
      (await s.sandbox.admin.ledger()).payments
        .map((p) => String(p.idempotency_key).replace('charge:', ''))
        .filter((id) => ids.includes(id)),
    );
  await waitFor(
    'provider calls in flight',
    async () => ((await charged()).size >= 3 ? true : undefined),
    {
      timeoutMs: 60_000,
      intervalMs: 100,
    },
  );
  const inFlight = await charged();

  svc.child.kill('SIGTERM');
  // readiness goes down first, while the in-flight jobs are still finishing
  const readiness = await waitFor(
    'readiness to go down',
    async () => {
      const res = await fetch(`${svc.url}/health/ready`).catch(() => undefined);
      return res && res.status !== 200 ? res.status : undefined;
    },
    { timeoutMs: 10_000, intervalMs: 50 },
  );
  expect(readiness).toBe(503);
  expect(await svc.exited).toEqual({ code: 0, signal: null });
  const log = readFileSync(logFile, 'utf8');
  expect(log).toContain('workers drained: every in-flight job finished'); // within the grace
  expect(log).not.toContain('cut off');

  // the jobs in flight at SIGTERM finished in that process: completed, with their result
  const queue = new Queue(bullQueueName('payments'), {
    connection: {
      host: '127.0.0.1',
      port: s.redis.port,
      username: s.redisAdmin.username,
      password: s.redisAdmin.password,
    },
  });
  try {
    for (const id of inFlight)
      expect({ id, state: await queue.getJobState(id) }).toEqual({ id, state: 'completed' });
  } finally {
    await queue.close();
  }

  // nothing lost: the stack's payment-service takes the rest; nothing charged twice
  await s.sandbox.admin.setFault({ response_delay_ms: 0 });
  await rebootstrap();
  await s.services['payment-service'].process.restart();
  await waitFor(
    'every payment to succeed',
    async () => {
      for (const id of ids) {
        const res = (await (
          await s.callers.checkout.fetch('payment-service', `/payments/${id}`)
        ).json()) as { status?: string };
        if (res.status !== 'succeeded') return undefined;
      }
      return true;
    },
    { timeoutMs: 120_000, intervalMs: 250 },
  );
  const ledger = await s.sandbox.admin.ledger();
  for (const id of ids)
    expect({
      id,
      charges: ledger.payments.filter((p) => p.idempotency_key === `charge:${id}`).length,
    }).toEqual({ id, charges: 1 });
});
