// The incident, proven: a service is declared compromised while real requests flow through
// it; `runIncident` (tools/incident) runs against the live stack; then every piece of the
// attacker's loot is tried again and must be worthless, and every request must have ended
// succeeded, charged once, on the service's new identity.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import type { Client } from 'pg';
import { grantOf, secretDataPathOf, type ServiceName } from '@lpi/access-matrix';
import { runIncident } from '../incident/runbook';
import type { IncidentPorts } from '../incident/ports';
import type { Stack } from '../demo/stack';
import { API_OPS, apiCall, tokenEndpointCall, tokenRequest, vaultCall } from './clients';
import { driveThrough } from './incident-load';
import { certOf, lootOf, type Loot } from './loot';
import type { ProbeContext } from './probes/context';
import { connect as connectDb, readLogin } from './probes/database';
import {
  allowed,
  denied,
  httpOutcome,
  settle,
  tokenOutcome,
  type Layer,
  type Outcome,
} from './rows';

/** The services the drill declares compromised, in turn: refresh tokens, then money. */
export const INCIDENT_SERVICES: readonly ServiceName[] = ['reporting-service', 'payment-service'];

/** The incident's ports on the local stack: root token, sandbox admin, dev PKI, the process. */
export function stackPorts(s: Stack, print: (l: string) => void): IncidentPorts {
  const redis = s.redis.admin();
  return {
    vault: { addr: s.vault.addr, token: s.vault.rootToken },
    provider: {
      baseUrl: s.sandbox.apiBaseUrl,
      token: s.sandbox.adminToken,
      caCert: s.sandbox.caCert,
    },
    redis: { call: (cmd, ...args) => redis.call(cmd, ...args) },
    issueCertificate: (service) => s.pki.issueClient(service),
    identity: 'approle',
    async restart(service, { wrappedSecretId }) {
      writeFileSync(
        join(s.dir, 'identities', service, 'wrapped-secret-id'),
        wrappedSecretId ?? '',
        {
          mode: 0o600,
        },
      );
      await s.services[service].process.restart();
      return `${service} restarted (SIGTERM, then started on the new wrapped secret-id)`;
    },
    log: (line) => print(`    ${line}`),
  };
}

/** Everything the attacker holds just before the incident, beyond the Vault loot. */
interface Holdings {
  loot: Loot;
  unusedSecretId: string;
  accessToken: string;
  refreshToken?: string;
  redisSession: Redis;
  /** A database login read with the looted Vault token, and a session opened with it. */
  database?: { username: string; password: string; session: Client };
}

async function gather(ctx: ProbeContext, service: ServiceName): Promise<Holdings> {
  const s = ctx.stack;
  const loot = await lootOf(s, service);
  const unused = await vaultCall(
    s.vault.addr,
    'POST',
    `auth/approle/role/${service}/secret-id`,
    s.vault.rootToken,
  );
  const token = await tokenRequest(s, loot.secret, grantOf(service).oauth.scopes.join(' '));
  const redisSession = new Redis({
    host: s.redis.host,
    port: s.redis.port,
    username: service,
    password: loot.secret.redis_password,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    lazyConnect: true,
  });
  redisSession.on('error', () => undefined);
  await redisSession.connect();
  await redisSession.ping();
  const { login } = await readLogin(ctx, loot.vaultToken, service);
  const database = login && { ...login, session: await connectDb(ctx, login) };
  return {
    database,
    loot,
    unusedSecretId: unused.json.data.secret_id as string,
    accessToken: token.json.access_token,
    refreshToken: token.json.refresh_token,
    redisSession,
  };
}

export async function incidentSection(ctx: ProbeContext, service: ServiceName): Promise<void> {
  const { stack: s, print } = ctx;
  print(`\n==> incident: ${service} declared compromised; npm run incident's runbook, under load`);
  const h = await gather(ctx, service);
  const load = driveThrough(s, service);
  const row = (layer: Layer, capability: string, expected: 'allow' | 'deny', outcome: Outcome) =>
    ctx.rows.add({
      service: 'incident',
      layer,
      capability: `${service}: ${capability}`,
      expected,
      outcome,
    });
  const ran = await runIncident(service, stackPorts(s, print))
    .then((r) => allowed(`${r.steps.length} steps, Vault version ${r.secretVersion}`))
    .catch((err: Error & { code?: string }) => denied(`${err.code ?? 'error'}: ${err.message}`))
    .finally(() => load.stop());
  row('vault', 'the runbook ran to its end', 'allow', ran);
  try {
    await vaultLoot(ctx, service, h, row);
    await providerLoot(ctx, service, h, row);
    await redisLoot(ctx, service, h, row);
    await databaseLoot(ctx, h, row);
    const served = await load.result;
    row(
      'http',
      'every request sent through the service during the incident',
      'allow',
      served.outcome,
    );
    const ready = await fetch(`${s.services[service].url}/health/ready`).catch(() => undefined);
    row(
      'http',
      'the service is ready on its new identity',
      'allow',
      httpOutcome(ready?.status ?? 0),
    );
  } finally {
    h.redisSession.disconnect();
    await h.database?.session.end().catch(() => undefined);
  }
}

/** The looted Vault token is revoked by the runbook, and its database leases with it. */
async function databaseLoot(ctx: ProbeContext, h: Holdings, row: Row) {
  if (!h.database)
    return row(
      'database',
      'a database login read before the incident',
      'allow',
      denied('none read'),
    );
  row(
    'database',
    'the database session opened before the incident',
    'deny',
    await h.database.session.query('SELECT 1').then(
      () => allowed('still runs queries'),
      (e: { code?: string }) => denied(`${e.code ?? 'closed'} session ended`),
    ),
  );
  row(
    'database',
    'log in with the database login read before the incident',
    'deny',
    await connectDb(ctx, h.database).then(
      async (c) => {
        await c.end();
        return allowed('logged in');
      },
      (e: { code?: string }) => denied(`${e.code ?? 'refused'} login refused`),
    ),
  );
}

type Row = (layer: Layer, capability: string, expected: 'allow' | 'deny', outcome: Outcome) => void;

async function vaultLoot(ctx: ProbeContext, service: ServiceName, h: Holdings, row: Row) {
  const addr = ctx.stack.vault.addr;
  const t = h.loot.vaultToken;
  const lookup = await vaultCall(addr, 'GET', 'auth/token/lookup-self', t);
  row('vault', 'stolen Vault token: lookup-self', 'deny', httpOutcome(lookup.status));
  const renew = await vaultCall(addr, 'POST', 'auth/token/renew-self', t, {});
  row('vault', 'stolen Vault token: renew-self', 'deny', httpOutcome(renew.status));
  const read = await vaultCall(addr, 'GET', secretDataPathOf(service), t);
  row('vault', 'stolen Vault token: read the new secret', 'deny', httpOutcome(read.status));
  for (const [what, secretId] of [
    ['the used secret-id', h.loot.usedSecretId.secretId],
    ['an unused old secret-id', h.unusedSecretId],
  ] as const) {
    const login = await vaultCall(addr, 'POST', 'auth/approle/login', undefined, {
      role_id: h.loot.usedSecretId.roleId,
      secret_id: secretId,
    });
    row('vault', `log in with ${what}`, 'deny', httpOutcome(login.status));
  }
}

async function providerLoot(ctx: ProbeContext, service: ServiceName, h: Holdings, row: Row) {
  const s = ctx.stack;
  const fresh = (await vaultCall(s.vault.addr, 'GET', secretDataPathOf(service), s.vault.rootToken))
    .json.data.data as Record<string, string>;
  const newCert = { cert: fresh.client_cert, key: fresh.client_key };
  const scopes = grantOf(service).oauth.scopes.join(' ');
  const what = h.loot.secret.client_assertion_key ? 'assertion key' : 'client secret';
  row(
    'oauth',
    `old ${what} with the old certificate`,
    'deny',
    tokenOutcome(await tokenRequest(s, h.loot.secret, scopes)),
  );
  row(
    'oauth',
    `old ${what} over the new certificate`,
    'deny',
    tokenOutcome(await tokenRequest(s, h.loot.secret, scopes, newCert)),
  );
  row(
    'mtls',
    `old certificate with the new ${what}`,
    'deny',
    tokenOutcome(await tokenRequest(s, fresh, scopes, certOf(h.loot))),
  );
  const control = await tokenRequest(s, fresh, scopes, newCert);
  row('oauth', `new ${what} over the new certificate (control)`, 'allow', tokenOutcome(control));
  const op = API_OPS.find(
    (o) => o.method === 'GET' && grantOf(service).oauth.scopes.includes(o.scope),
  )!;
  const oldCertApi = await apiCall(s, control.json.access_token, op, certOf(h.loot), ctx.paymentId);
  row(
    'mtls',
    `old certificate at the API with a fresh token (${op.name})`,
    'deny',
    httpOutcome(oldCertApi.status, oldCertApi.json?.error?.code),
  );
  const oldToken = await apiCall(s, h.accessToken, op, certOf(h.loot), ctx.paymentId);
  row(
    'oauth',
    `access token issued before the incident (${op.name})`,
    'deny',
    httpOutcome(oldToken.status, oldToken.json?.error?.code),
  );
  if (h.refreshToken) {
    const refresh = await tokenEndpointCall(
      s,
      fresh,
      { grant_type: 'refresh_token', refresh_token: h.refreshToken },
      newCert,
    );
    row('oauth', 'old refresh token, even with the new credentials', 'deny', tokenOutcome(refresh));
  }
}

async function redisLoot(ctx: ProbeContext, service: ServiceName, h: Holdings, row: Row) {
  row(
    'redis',
    'the Redis session opened before the incident',
    'deny',
    await settle(() => h.redisSession.ping()),
  );
  const again = new Redis({
    host: ctx.stack.redis.host,
    port: ctx.stack.redis.port,
    username: service,
    password: h.loot.secret.redis_password,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
    enableReadyCheck: false,
  });
  // the server's refusal arrives as an 'error' event; connect() then only says "closed"
  const refusals: string[] = [];
  again.on('error', (e: Error) => refusals.push(e.message.split(' ')[0]));
  const outcome = await again
    .connect()
    .then(() => again.ping())
    .then(
      () => allowed('connected'),
      (e: Error) => denied(refusals.find((r) => /^[A-Z]+$/.test(r)) ?? e.message.split(' ')[0]),
    );
  again.disconnect();
  row('redis', 'reconnect with the old password', 'deny', outcome);
}
