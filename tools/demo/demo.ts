// `npm run demo`: starts what it needs, walks through the scenario step by step, prints a
// summary, and exits 0 only if every claim held. Everything it starts, it stops (Ctrl-C too).
import { SERVICE_NAMES, grantOf, type ServiceName } from '@lpi/access-matrix';
import { createDevPki, httpsCall, startSandbox, type SandboxHandle } from '@lpi/testing';

interface Check {
  step: string;
  ok: boolean;
  detail: string;
}
const checks: Check[] = [];
let stepNo = 0;
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const step = (title: string) => console.log(`\n[${++stepNo}] ${title}  (${elapsed()})`);
function expectThat(step: string, ok: boolean, detail: string) {
  checks.push({ step, ok, detail });
  console.log(`    ${ok ? '✓' : '✗'} ${step}: ${detail}`);
}

let sandbox: SandboxHandle | undefined;
const cleanup = async () => {
  await sandbox?.stop().catch(() => undefined);
};
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

async function main() {
  const keep = process.argv.includes('--keep');

  step('generate a throwaway PKI: a CA, a server certificate, one client certificate per service');
  const pki = await createDevPki(SERVICE_NAMES);

  step('start the provider sandbox (authorization server + payments API, mTLS on both)');
  sandbox = await startSandbox({ pki });
  const sb = sandbox;
  console.log(`    issuer ${sb.issuer}, payments API ${sb.apiBaseUrl}/v1`);

  step('register each service at the provider with exactly the scopes the access matrix grants');
  const secrets = {} as Record<ServiceName, string>;
  for (const service of SERVICE_NAMES) {
    const g = grantOf(service);
    const reg = await sb.admin.registerClient(service, {
      scopes: [...g.oauth.scopes],
      token_endpoint_auth_method: g.oauth.tokenEndpointAuthMethod,
      refresh_tokens: g.oauth.refreshTokens,
    });
    secrets[service] = reg.client_secret ?? '';
    console.log(`    ${service.padEnd(18)} ${g.oauth.scopes.join(' ')}`);
  }

  const tokenRequest = (service: ServiceName, scope: string) =>
    httpsCall<Record<string, string>>(sb.tokenEndpoint, {
      method: 'POST',
      ca: sb.caCert,
      cert: pki.clients[service].cert,
      key: pki.clients[service].key,
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${service}:${secrets[service]}`).toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
  const api = (
    as: ServiceName,
    method: string,
    path: string,
    token: string,
    body?: unknown,
    idempotencyKey?: string,
  ) =>
    httpsCall<Record<string, unknown> & { error?: { code: string } }>(`${sb.apiBaseUrl}${path}`, {
      method,
      ca: sb.caCert,
      cert: pki.clients[as].cert,
      key: pki.clients[as].key,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body ? { 'content-type': 'application/json' } : {}),
        ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
      },
      body: body ? JSON.stringify(body) : undefined,
    });

  step('payment-service gets a short-lived, certificate-bound token and charges a payment');
  const payTok = await tokenRequest('payment-service', 'payments:write payments:read');
  expectThat(
    'token issued',
    payTok.status === 200,
    `HTTP ${payTok.status}, expires_in ${payTok.json.expires_in} s, scope "${payTok.json.scope}"`,
  );
  const charge = await api(
    'payment-service',
    'POST',
    '/v1/payments',
    payTok.json.access_token,
    { amount: 2500, currency: 'EUR' },
    'demo-order-1',
  );
  expectThat(
    'payment accepted',
    charge.status === 201,
    `HTTP ${charge.status} ${String(charge.json.id)}`,
  );
  const retry = await api(
    'payment-service',
    'POST',
    '/v1/payments',
    payTok.json.access_token,
    { amount: 2500, currency: 'EUR' },
    'demo-order-1',
  );
  expectThat(
    'retry with the same Idempotency-Key charges nothing new',
    retry.json.id === charge.json.id,
    `replayed ${String(retry.json.id)}`,
  );

  step('reporting-service asks for a scope it was not granted');
  const refused = await tokenRequest('reporting-service', 'payments:write');
  expectThat(
    'authorization server refuses',
    refused.status === 400 && refused.json.error === 'invalid_scope',
    `HTTP ${refused.status} ${refused.json.error}`,
  );

  step('reporting-service uses its own token against the payment endpoint');
  const repTok = await tokenRequest('reporting-service', 'transactions:read');
  const noScope = await api(
    'reporting-service',
    'POST',
    '/v1/payments',
    repTok.json.access_token,
    { amount: 1, currency: 'EUR' },
    'evil-1',
  );
  expectThat(
    'payments API refuses',
    noScope.status === 403,
    `HTTP ${noScope.status} ${noScope.json.error?.code}`,
  );

  step("an attacker replays payment-service's stolen token with reporting-service's certificate");
  const stolen = await api(
    'reporting-service',
    'POST',
    '/v1/payments',
    payTok.json.access_token,
    { amount: 1, currency: 'EUR' },
    'evil-2',
  );
  expectThat(
    'token is useless without its private key',
    stolen.status === 401,
    `HTTP ${stolen.status} ${stolen.json.error?.code}`,
  );

  step('the provider ledger: exactly one charge');
  const ledger = await sb.admin.ledger();
  expectThat(
    'charged exactly once',
    ledger.payments.length === 1,
    `${ledger.payments.length} payment(s) in the ledger`,
  );

  const failed = checks.filter((c) => !c.ok);
  console.log(
    `\n==> summary: ${checks.length - failed.length}/${checks.length} checks held in ${elapsed()}`,
  );
  for (const f of failed) console.log(`    ✗ ${f.step}: ${f.detail}`);
  if (keep) {
    console.log(
      `\n--keep: the sandbox stays up at ${sb.issuer} and ${sb.apiBaseUrl}; Ctrl-C stops it`,
    );
    return failed.length;
  }
  await cleanup();
  return failed.length;
}

main()
  .then((failures) => {
    if (!process.argv.includes('--keep')) process.exit(failures ? 1 : 0);
  })
  .catch(async (err: unknown) => {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    await cleanup();
    process.exit(1);
  });
