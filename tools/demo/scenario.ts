// The demo scenario, shared by `npm run demo` and the end-to-end test: real processes only.
import { randomUUID } from 'node:crypto';
import { SignJWT, generateKeyPair } from 'jose';
import {
  identityRoleName,
  queueKey,
  secretDataPathOf,
  type QueueName,
  type ServiceName,
} from '@lpi/access-matrix';
import { clusterMasters, httpsCall, waitFor } from '@lpi/testing';
import type { Callers } from './callers';
import type { Stack } from './stack';

export interface Check {
  step: string;
  ok: boolean;
  detail: string;
}

export class ScenarioLog {
  readonly checks: Check[] = [];
  private stepNo = 0;
  private readonly t0 = Date.now();
  constructor(private readonly print: (line: string) => void = (l) => console.log(l)) {}
  elapsed = () => `${((Date.now() - this.t0) / 1000).toFixed(1)}s`;
  step(title: string) {
    this.print(`\n[${++this.stepNo}] ${title}  (${this.elapsed()})`);
  }
  expectThat(what: string, ok: boolean, detail: string) {
    this.checks.push({ step: what, ok, detail });
    this.print(`    ${ok ? '✓' : '✗'} ${what}: ${detail}`);
  }
}

const bind = (log: ScenarioLog) => ({
  step: (t: string) => log.step(t),
  expectThat: (w: string, ok: boolean, d: string) => log.expectThat(w, ok, d),
});

const json = async <T>(res: Response) => (await res.json()) as T;

/**
 * Job keys of a queue (`bull:{<queue>}:<jobId>`), read as the Redis admin. On a cluster KEYS
 * answers for one node only: asked of every master, the queue's one slot answers.
 */
export async function queuedJobs(s: Stack, queue: QueueName): Promise<string[]> {
  const pattern = queueKey(queue, '*');
  const admins = s.redisCluster ? await clusterMasters(s.redisCluster) : [s.redis.admin()];
  const keys = [...new Set((await Promise.all(admins.map((a) => a.keys(pattern)))).flat())];
  return keys
    .filter((k) => k.split(':').length === 3 && /^bull:\{[\w-]+\}:(pay|ref)_/.test(k))
    .sort();
}

/**
 * What the scenario needs: the services' URLs, the declared callers logged in with their own
 * identities, and the provider's ledger (a Stack, or compose).
 */
export interface ScenarioTarget {
  services: Record<ServiceName, { url: string }>;
  callers: Callers;
  sandbox: { admin: Pick<Stack['sandbox']['admin'], 'ledger'> };
}

export async function scenario(s: ScenarioTarget, log: ScenarioLog) {
  const { step, expectThat } = bind(log);
  // each call is made by the caller the access matrix grants it to, with its own token
  const { checkout, 'support-console': support, 'finance-dashboard': finance } = s.callers;
  const pay = (key: string, body: unknown) =>
    checkout.post('payment-service', '/payments', key, body);

  step(
    'three payments through payment-service (HTTP -> queue -> provider), one of them sent twice',
  );
  const orders = [
    ['order-1001', 2500],
    ['order-1002', 1299],
    ['order-1003', 45000],
  ] as const;
  const ids: string[] = [];
  for (const [key, amount] of orders) {
    const res = await pay(key, {
      amount,
      currency: 'EUR',
      description: `demo ${key}`,
    });
    ids.push((await json<{ payment_id: string }>(res)).payment_id);
  }
  const dup = await json<{ payment_id: string }>(
    await pay('order-1001', {
      amount: 2500,
      currency: 'EUR',
      description: 'demo order-1001',
    }),
  );
  expectThat('a retried request is the same payment', dup.payment_id === ids[0], dup.payment_id);
  const states = await waitFor('payments to be charged', async () => {
    const all = await Promise.all(
      ids.map(async (id) =>
        json<{ status: string; provider_payment_id?: string }>(
          await checkout.fetch('payment-service', `/payments/${id}`),
        ),
      ),
    );
    return all.every((p) => p.status === 'succeeded') ? all : undefined;
  });
  expectThat('all payments charged', true, states.map((p) => p.provider_payment_id).join(', '));
  const bad = await pay('order-bad', { amount: 12.5, currency: 'EUR' });
  expectThat(
    'invalid input refused with the error envelope',
    bad.status === 400,
    `HTTP ${bad.status} ${(await json<{ error: { code: string } }>(bad)).error.code}`,
  );

  const reused = await pay('order-1001', { amount: 99_999, currency: 'EUR' });
  expectThat(
    'a reused Idempotency-Key with another body is refused, not charged',
    reused.status === 409,
    `HTTP ${reused.status} ${(await json<{ error: { code: string } }>(reused)).error.code}`,
  );

  step('support-console looks the payment up and refunds part of it through refund-service');
  const looked = await json<{ provider_payment_id?: string }>(
    await support.fetch('payment-service', `/payments/${ids[0]}`),
  );
  expectThat(
    'support-console reads the payment with its own token',
    looked.provider_payment_id === states[0].provider_payment_id,
    String(looked.provider_payment_id),
  );
  const r = await json<{ refund_id: string }>(
    await support.post('refund-service', '/refunds', 'refund-1001', {
      provider_payment_id: states[0].provider_payment_id,
      amount: 500,
      currency: 'EUR',
      reason: 'demo',
    }),
  );
  const refunded = await waitFor('the refund', async () => {
    const state = await json<{ status: string; provider_refund_id?: string }>(
      await support.fetch('refund-service', `/refunds/${r.refund_id}`),
    );
    return state.status === 'succeeded' ? state : undefined;
  });
  expectThat('refund applied', true, String(refunded.provider_refund_id));

  step(
    'signed provider webhooks reach webhook-service, are verified and fanned out; the report reconciles',
  );
  const summary = await waitFor('the report to include every event', async () => {
    const sum = await json<{
      payments: { count: number };
      refunds: { count: number };
      provider_events_received: number;
      reconciled: boolean;
      provider: { net_by_currency: Record<string, number> };
    }>(await finance.fetch('reporting-service', '/reports/summary'));
    return sum.payments.count === 3 && sum.refunds.count === 1 && sum.provider_events_received >= 4
      ? sum
      : undefined;
  });
  expectThat(
    'webhooks verified and delivered',
    summary.provider_events_received >= 4,
    `${summary.provider_events_received} provider events`,
  );
  expectThat(
    'report equals the provider transactions',
    summary.reconciled,
    `net ${Object.entries(summary.provider.net_by_currency)
      .map(([c, a]) => `${a} ${c}`)
      .join(', ')} (minor units)`,
  );
  const forged = await fetch(`${s.services['webhook-service'].url}/webhooks/provider`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': 'msg_forged',
      'webhook-timestamp': String(Math.floor(Date.now() / 1000)),
      'webhook-signature': 'v1,AAAA',
    },
    body: '{"type":"payment.succeeded","data":{"id":"pp_fake"}}',
  });
  expectThat('a forged webhook is refused', forged.status === 401, `HTTP ${forged.status}`);

  step("the provider's ledger: every payment charged exactly once");
  const ledger = await s.sandbox.admin.ledger();
  const keys = ledger.payments.map((p) => String(p.idempotency_key));
  expectThat(
    'charged exactly once',
    ledger.payments.length === 3 && new Set(keys).size === 3,
    `${ledger.payments.length} charges, ${ledger.refunds.length} refund`,
  );
}

export async function compromisedReporting(s: Stack, log: ScenarioLog) {
  const { step, expectThat } = bind(log);
  step('reporting-service is compromised: what its secrets let an attacker do');
  // everything reporting-service holds is in its own Vault secret
  const stolen = await json<{ data: { data: Record<string, string> } }>(
    await fetch(`${s.vault.addr}/v1/${secretDataPathOf('reporting-service')}`, {
      headers: { 'x-vault-token': s.vault.rootToken },
    }),
  );
  const loot = stolen.data.data;
  const as = (svc: ServiceName) => s.pki.clients[svc];
  const tokenRequest = (scope: string) =>
    httpsCall<Record<string, string>>(s.sandbox.tokenEndpoint, {
      method: 'POST',
      ca: s.sandbox.caCert,
      cert: loot.client_cert,
      key: loot.client_key,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${loot.client_id}:${loot.client_secret}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
  const refused = await tokenRequest('payments:write');
  expectThat(
    'cannot get a payments:write token',
    refused.json.error === 'invalid_scope',
    `HTTP ${refused.status} ${refused.json.error}`,
  );
  const own = await tokenRequest('transactions:read');
  const attempt = await httpsCall<{ error?: { code: string } }>(
    `${s.sandbox.apiBaseUrl}/v1/payments`,
    {
      method: 'POST',
      ca: s.sandbox.caCert,
      cert: loot.client_cert,
      key: loot.client_key,
      headers: {
        authorization: `Bearer ${own.json.access_token}`,
        'content-type': 'application/json',
        'idempotency-key': 'evil-1',
      },
      body: JSON.stringify({ amount: 99999, currency: 'EUR' }),
    },
  );
  expectThat(
    'cannot create a payment with its own token',
    attempt.status === 403,
    `HTTP ${attempt.status} ${attempt.json.error?.code}`,
  );
  const replay = await httpsCall<{ error?: { code: string } }>(
    `${s.sandbox.apiBaseUrl}/v1/transactions`,
    {
      ca: s.sandbox.caCert,
      cert: as('payment-service').cert,
      key: as('payment-service').key,
      headers: { authorization: `Bearer ${own.json.access_token}` },
    },
  );
  expectThat(
    'its token is useless with another certificate',
    replay.status === 401,
    `HTTP ${replay.status} ${replay.json.error?.code}`,
  );
  // the attacker also holds reporting-service's Vault identity: log in as it
  const v = (path: string, init: RequestInit = {}) =>
    fetch(`${s.vault.addr}/v1/${path}`, init).then((r) => json<Record<string, any>>(r)); // eslint-disable-line @typescript-eslint/no-explicit-any
  const root = { 'x-vault-token': s.vault.rootToken };
  const roleId = (await v('auth/approle/role/reporting-service/role-id', { headers: root })).data
    .role_id;
  const secretId = (
    await v('auth/approle/role/reporting-service/secret-id', { method: 'POST', headers: root })
  ).data.secret_id;
  const login = await v('auth/approle/login', {
    method: 'POST',
    body: JSON.stringify({ role_id: roleId, secret_id: secretId }),
  });
  const vaultRead = await fetch(`${s.vault.addr}/v1/${secretDataPathOf('payment-service')}`, {
    headers: { 'x-vault-token': login.auth.client_token },
  });
  expectThat(
    "cannot read payment-service's Vault secret",
    vaultRead.status === 403,
    `HTTP ${vaultRead.status}`,
  );
  await compromisedReportingHttp(s, log, login.auth.client_token, own.json.access_token);
}

/** The HTTP layer: reporting-service asks payment-service to charge, directly. */
async function compromisedReportingHttp(
  s: Stack,
  log: ScenarioLog,
  vaultToken: string,
  providerToken: string,
) {
  const { expectThat } = bind(log);
  const jobsBefore = await queuedJobs(s, 'payments');
  const chargesBefore = (await s.sandbox.admin.ledger()).payments.length;
  const charge = (authorization?: string) =>
    fetch(`${s.services['payment-service'].url}/payments`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': `evil-${randomUUID()}`,
        ...(authorization ? { authorization } : {}),
      },
      body: JSON.stringify({ amount: 99_999, currency: 'EUR' }),
    });
  const anonymous = await charge();
  expectThat(
    'its direct POST /payments without a token is refused',
    anonymous.status === 401,
    `HTTP ${anonymous.status} ${(await json<{ error: { code: string } }>(anonymous)).error.code}`,
  );
  const role = identityRoleName('checkout', 'payment-service');
  const minted = await fetch(`${s.vault.addr}/v1/identity/oidc/token/${role}`, {
    headers: { 'x-vault-token': vaultToken },
  });
  expectThat(
    'its Vault identity cannot mint a caller token for payment-service',
    minted.status === 403,
    `GET identity/oidc/token/${role}: HTTP ${minted.status}`,
  );
  const { privateKey } = await generateKeyPair('RS256');
  const forged = await new SignJWT({ client_id: 'checkout', scope: 'payments:create' })
    .setProtectedHeader({ alg: 'RS256', kid: 'attacker' })
    .setIssuer(`${s.vault.addr}/v1/identity/oidc`)
    .setAudience('payment-service')
    .setSubject('attacker')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(privateKey);
  for (const [what, token] of [
    ['a token it signed itself', forged],
    ['its provider access token', providerToken],
  ] as const) {
    const res = await charge(`Bearer ${token}`);
    expectThat(
      `its direct POST /payments with ${what} is refused`,
      res.status === 401,
      `HTTP ${res.status} ${(await json<{ error: { code: string } }>(res)).error.code}`,
    );
  }
  const jobsAfter = await queuedJobs(s, 'payments');
  const chargesAfter = (await s.sandbox.admin.ledger()).payments.length;
  expectThat(
    'nothing was enqueued or charged',
    jobsAfter.join() === jobsBefore.join() && chargesAfter === chargesBefore,
    `${jobsAfter.length} payment jobs, ${chargesAfter} charges at the provider (unchanged)`,
  );
}
