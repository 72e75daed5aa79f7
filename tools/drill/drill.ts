// `npm run drill`: the breach drill. For each service in turn, take everything an attacker
// who owns it would hold (its Vault identity and secret, OAuth client, certificate and key,
// tokens, Redis user and password) and try every capability in the system, layer by layer.
// Expected outcomes come from the access matrix, plus fixed assertions that never do.
// Prints the matrix, writes drill-results.json and docs/blast-radius.md, and fails loudly.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import Redis from 'ioredis';
import {
  PROVIDER_SCOPES,
  QUEUE_NAMES,
  SERVICE_NAMES,
  grantOf,
  hasScope,
  queuesOf,
  secretDataPathOf,
  type ProviderScope,
  type ServiceName,
} from '@lpi/access-matrix';
import { httpsCall, tokenEndpointAuth } from '@lpi/testing';
import { startStack, type Stack } from '../demo/stack';

export type Layer = 'oauth' | 'mtls' | 'vault' | 'redis' | 'http';
export interface DrillRow {
  service: ServiceName | 'incident';
  layer: Layer;
  capability: string;
  expected: 'allow' | 'deny' | 'not enforced locally';
  actual: string;
  ok: boolean;
  /** A fixed assertion: holds whatever the matrix says. */
  fixed?: boolean;
}
export interface DrillResult {
  rows: DrillRow[];
  failures: DrillRow[];
  positiveControls: number;
}

const ROOT = join(__dirname, '..', '..');
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

interface Loot {
  service: ServiceName;
  secret: Record<string, string>;
  vaultToken: string;
  usedSecretId: { roleId: string; secretId: string };
}

const API_OPS: {
  name: string;
  method: string;
  path: string;
  scope: ProviderScope;
  body?: (paymentId: string) => unknown;
}[] = [
  {
    name: 'create payment',
    method: 'POST',
    path: '/v1/payments',
    scope: 'payments:write',
    body: () => ({ amount: 1, currency: 'EUR', description: 'breach drill' }),
  },
  { name: 'list payments', method: 'GET', path: '/v1/payments', scope: 'payments:read' },
  {
    name: 'create refund',
    method: 'POST',
    path: '/v1/refunds',
    scope: 'refunds:write',
    body: (p) => ({ payment: p, amount: 1 }),
  },
  { name: 'list refunds', method: 'GET', path: '/v1/refunds', scope: 'refunds:read' },
  {
    name: 'list transactions',
    method: 'GET',
    path: '/v1/transactions',
    scope: 'transactions:read',
  },
  {
    name: 'create webhook endpoint',
    method: 'POST',
    path: '/v1/webhook-endpoints',
    scope: 'webhooks:manage',
    body: () => ({ url: 'https://attacker.example/hook' }),
  },
  {
    name: 'list webhook endpoints',
    method: 'GET',
    path: '/v1/webhook-endpoints',
    scope: 'webhooks:manage',
  },
];

export async function runDrill(
  options: { stack?: Stack; print?: (line: string) => void; writeOutputs?: boolean } = {},
): Promise<DrillResult> {
  const print = options.print ?? ((l: string) => console.log(l));
  const own = !options.stack;
  print('==> breach drill: starting the stack');
  const s = options.stack ?? (await startStack({ tokenTtlSeconds: 6, rateLimitPerMinute: 6000 }));
  const rows: DrillRow[] = [];
  const add = (row: Omit<DrillRow, 'ok'> & { ok?: boolean }) => {
    const ok =
      row.ok ??
      (row.expected === 'allow'
        ? row.actual.startsWith('allowed')
        : !row.actual.startsWith('allowed'));
    rows.push({ ...row, ok });
  };
  const vault = async (
    method: string,
    path: string,
    token: string,
    body?: unknown,
  ): Promise<{ status: number; json: Json }> => {
    const res = await fetch(`${s.vault.addr}/v1/${path}`, {
      method,
      headers: { 'x-vault-token': token, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Json) : {} };
  };

  try {
    // a real payment to aim refunds at
    const seed = (await s.sandbox.admin.ledger()).payments[0]?.id as string | undefined;
    let paymentId = seed;
    if (!paymentId) {
      await fetch(`${s.services['payment-service'].url}/payments`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': `drill-seed-${randomBytes(4).toString('hex')}`,
        },
        body: JSON.stringify({ amount: 5000, currency: 'EUR' }),
      });
      for (let i = 0; i < 100 && !paymentId; i += 1) {
        await new Promise((r) => setTimeout(r, 100));
        paymentId = (await s.sandbox.admin.ledger()).payments[0]?.id as string | undefined;
      }
    }

    // what each compromised service holds
    const loot = {} as Record<ServiceName, Loot>;
    for (const service of SERVICE_NAMES) {
      const secret = (await vault('GET', secretDataPathOf(service), s.vault.rootToken)).json.data
        .data as Record<string, string>;
      const roleId = (await vault('GET', `auth/approle/role/${service}/role-id`, s.vault.rootToken))
        .json.data.role_id as string;
      const secretId = (
        await vault('POST', `auth/approle/role/${service}/secret-id`, s.vault.rootToken)
      ).json.data.secret_id as string;
      const login = await fetch(`${s.vault.addr}/v1/auth/approle/login`, {
        method: 'POST',
        body: JSON.stringify({ role_id: roleId, secret_id: secretId }),
      }).then((r) => r.json() as Promise<Json>);
      loot[service] = {
        service,
        secret,
        vaultToken: login.auth.client_token,
        usedSecretId: { roleId, secretId },
      };
    }

    const tokenRequest = (
      l: Loot,
      scope: string,
      cert: { cert?: string; key?: string } = {
        cert: l.secret.client_cert,
        key: l.secret.client_key,
      },
    ) => {
      // Basic with the looted client secret, or an assertion signed with the looted key
      const auth = tokenEndpointAuth(l.secret, s.sandbox.issuer);
      return httpsCall<Record<string, string>>(s.sandbox.tokenEndpoint, {
        method: 'POST',
        ca: s.sandbox.caCert,
        ...cert,
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope,
          ...auth.form,
        }).toString(),
      });
    };
    const api = (
      token: string,
      op: (typeof API_OPS)[number],
      cert: { cert?: string; key?: string },
    ) =>
      httpsCall<Json>(`${s.sandbox.apiBaseUrl}${op.path}`, {
        method: op.method,
        ca: s.sandbox.caCert,
        ...cert,
        headers: {
          authorization: `Bearer ${token}`,
          ...(op.body
            ? {
                'content-type': 'application/json',
                'idempotency-key': `drill-${randomBytes(6).toString('hex')}`,
              }
            : {}),
        },
        body: op.body ? JSON.stringify(op.body(paymentId ?? 'pp_none')) : undefined,
      });
    const verdict = (status: number, code?: string) =>
      status < 300 ? `allowed (${status})` : `denied: ${status}${code ? ` ${code}` : ''}`;
    const ownTokens = {} as Record<ServiceName, string>;

    for (const service of SERVICE_NAMES) {
      const l = loot[service];
      const ownCert = { cert: l.secret.client_cert, key: l.secret.client_key };
      print(`\n==> ${service} is compromised`);

      // OAuth: every scope at the authorization server
      for (const scope of PROVIDER_SCOPES) {
        const res = await tokenRequest(l, scope);
        add({
          service,
          layer: 'oauth',
          capability: `token with ${scope}`,
          expected: hasScope(service, scope) ? 'allow' : 'deny',
          actual: res.status === 200 ? 'allowed (200)' : `denied: ${res.json.error}`,
          fixed:
            service === 'reporting-service' &&
            (scope === 'payments:write' || scope === 'refunds:write'),
        });
      }
      // OAuth: every API operation with its full grant
      const granted = grantOf(service).oauth.scopes.join(' ');
      const tok = await tokenRequest(l, granted);
      ownTokens[service] = tok.json.access_token;
      for (const op of API_OPS) {
        const res = await api(ownTokens[service], op, ownCert);
        add({
          service,
          layer: 'oauth',
          capability: `${op.method} ${op.path} (${op.name})`,
          expected: hasScope(service, op.scope) ? 'allow' : 'deny',
          actual: verdict(res.status, res.json?.error?.code),
          fixed:
            service === 'reporting-service' &&
            (op.scope === 'payments:write' || op.scope === 'refunds:write'),
        });
      }

      // mTLS: certificate binding, on an operation the grant allows where there is one (the
      // API checks the binding before the scope, so a service with no API operation of its
      // own, e.g. one just generated with a new scope, is probed on a read it cannot make)
      const listOp =
        API_OPS.find(
          (o) =>
            o.scope ===
            grantOf(service).oauth.scopes.find(
              (sc) => sc.endsWith(':read') || sc === 'webhooks:manage',
            ),
        ) ?? API_OPS.find((o) => o.method === 'GET')!;
      const other = SERVICE_NAMES.find((x) => x !== service)!;
      const withOther = await api(ownTokens[service], listOp, {
        cert: loot[other].secret.client_cert,
        key: loot[other].secret.client_key,
      });
      add({
        service,
        layer: 'mtls',
        capability: `own token with ${other}'s certificate`,
        expected: 'deny',
        actual: verdict(withOther.status, withOther.json?.error?.code),
        fixed: service === 'payment-service',
      });
      const withNone = await api(ownTokens[service], listOp, {});
      add({
        service,
        layer: 'mtls',
        capability: 'own token without a client certificate',
        expected: 'deny',
        actual: verdict(withNone.status, withNone.json?.error?.code),
        fixed: service === 'payment-service',
      });
      const rogue = await tokenRequest(l, granted, {
        cert: s.pki.rogue.cert,
        key: s.pki.rogue.key,
      });
      add({
        service,
        layer: 'mtls',
        capability: 'token request with a certificate from an untrusted CA',
        expected: 'deny',
        actual: rogue.status === 200 ? 'allowed (200)' : `denied: ${rogue.json.error}`,
      });

      // Vault
      const own = await vault('GET', secretDataPathOf(service), l.vaultToken);
      add({
        service,
        layer: 'vault',
        capability: `read ${secretDataPathOf(service)}`,
        expected: 'allow',
        actual: verdict(own.status),
      });
      const write = await vault('POST', secretDataPathOf(service), l.vaultToken, {
        data: { client_id: 'x' },
      });
      add({
        service,
        layer: 'vault',
        capability: `write ${secretDataPathOf(service)} (own, read-only)`,
        expected: 'deny',
        actual: verdict(write.status),
      });
      for (const target of SERVICE_NAMES.filter((x) => x !== service)) {
        const r = await vault('GET', secretDataPathOf(target), l.vaultToken);
        add({
          service,
          layer: 'vault',
          capability: `read ${secretDataPathOf(target)}`,
          expected: 'deny',
          actual: verdict(r.status),
        });
        const w = await vault('POST', secretDataPathOf(target), l.vaultToken, {
          data: { client_secret: 'attacker' },
        });
        add({
          service,
          layer: 'vault',
          capability: `write ${secretDataPathOf(target)}`,
          expected: 'deny',
          actual: verdict(w.status),
        });
      }
      const list = await vault('GET', 'secret/metadata/?list=true', l.vaultToken);
      add({
        service,
        layer: 'vault',
        capability: 'list secret/metadata/',
        expected: 'deny',
        actual: verdict(list.status),
      });
      const caps = await vault('POST', 'sys/capabilities-self', l.vaultToken, {
        paths: SERVICE_NAMES.map(secretDataPathOf),
      });
      const othersDenied = SERVICE_NAMES.filter((x) => x !== service).every(
        (x) => JSON.stringify(caps.json.data?.[secretDataPathOf(x)]) === '["deny"]',
      );
      add({
        service,
        layer: 'vault',
        capability: "sys/capabilities-self on other services' paths",
        expected: 'deny',
        actual: othersDenied
          ? 'denied: ["deny"] for every other path'
          : 'allowed (some capability)',
      });
      for (const [what, path, body] of [
        ['create a token', 'auth/token/create', { policies: ['root'] }],
        [
          'write a policy',
          'sys/policies/acl/drill-evil',
          { policy: 'path "*" { capabilities = ["sudo", "read"] }' },
        ],
        [`create a secret-id for ${other}`, `auth/approle/role/${other}/secret-id`, {}],
        ['enable an auth method', 'sys/auth/drill-evil', { type: 'approle' }],
      ] as const) {
        const r = await vault('POST', path, l.vaultToken, body);
        add({
          service,
          layer: 'vault',
          capability: what,
          expected: 'deny',
          actual: verdict(r.status),
        });
      }
      const reuse = await fetch(`${s.vault.addr}/v1/auth/approle/login`, {
        method: 'POST',
        body: JSON.stringify({
          role_id: l.usedSecretId.roleId,
          secret_id: l.usedSecretId.secretId,
        }),
      });
      add({
        service,
        layer: 'vault',
        capability: 'log in again with the stolen (used) secret-id',
        expected: 'deny',
        actual: verdict(reuse.status),
      });

      // Redis
      const redis = new Redis({
        host: s.redis.host,
        port: s.redis.port,
        username: service,
        password: l.secret.redis_password,
        maxRetriesPerRequest: 1,
        enableReadyCheck: false,
      });
      redis.on('error', () => undefined);
      try {
        const attempt = async (
          capability: string,
          expected: 'allow' | 'deny',
          fn: () => Promise<unknown>,
          fixed = false,
        ) => {
          const actual = await fn().then(
            () => 'allowed',
            (err: Error) =>
              `denied: ${/NOPERM/.test(err.message) ? 'NOPERM' : err.message.split('\n')[0].slice(0, 60)}`,
          );
          add({ service, layer: 'redis', capability, expected, actual, fixed });
        };
        for (const queue of QUEUE_NAMES) {
          const mine = queuesOf(service).includes(queue);
          await attempt(`read ${queue} (LLEN bull:${queue}:wait)`, mine ? 'allow' : 'deny', () =>
            redis.llen(`bull:${queue}:wait`),
          );
          await attempt(
            `obliterate ${queue} (DEL bull:${queue}:drill-probe)`,
            mine ? 'allow' : 'deny',
            () => redis.del(`bull:${queue}:drill-probe`),
          );
          if (!mine) {
            const conn = redis.duplicate();
            conn.on('error', () => undefined);
            const q = new Queue(queue, { connection: conn, skipVersionCheck: true });
            q.on('error', () => undefined);
            const before = await s.redis.admin().exists(`bull:${queue}:drill-evil`);
            await attempt(
              `enqueue into ${queue} (BullMQ add)`,
              'deny',
              () => q.add('evil', { x: 1 }, { jobId: 'drill-evil' }),
              service === 'reporting-service' && (queue === 'payments' || queue === 'refunds'),
            );
            const after = await s.redis.admin().exists(`bull:${queue}:drill-evil`);
            add({
              service,
              layer: 'redis',
              capability: `nothing written to ${queue}`,
              expected: 'deny',
              actual: after > before ? 'allowed (a job key appeared)' : 'denied: no key written',
            });
            await q.close();
            conn.disconnect();
          }
        }
        for (const cmd of [
          ['SCAN', '0'],
          ['KEYS', '*'],
          ['CONFIG', 'GET', 'requirepass'],
          ['FLUSHALL'],
          ['ACL', 'LIST'],
          ['CLIENT', 'LIST'],
        ]) {
          await attempt(cmd.join(' '), 'deny', () => redis.call(cmd[0], ...cmd.slice(1)));
        }
      } finally {
        redis.disconnect();
      }

      // internal HTTP: nothing stops one process calling another on a laptop
      for (const target of SERVICE_NAMES.filter((x) => x !== service)) {
        add({
          service,
          layer: 'http',
          capability: `call ${target}`,
          expected: 'not enforced locally',
          actual:
            'enforced by NetworkPolicy in Kubernetes (deploy/k8s/components/network-policies)',
          ok: true,
        });
      }
    }

    // another service's stolen token, with the attacker's own certificate
    for (const service of SERVICE_NAMES) {
      const victim = SERVICE_NAMES.find((x) => x !== service)!;
      const op = API_OPS.find((o) => hasScope(victim, o.scope))!;
      const res = await api(ownTokens[victim], op, {
        cert: loot[service].secret.client_cert,
        key: loot[service].secret.client_key,
      });
      add({
        service,
        layer: 'mtls',
        capability: `${victim}'s stolen token with own certificate (${op.name})`,
        expected: 'deny',
        actual: verdict(res.status, res.json?.error?.code),
        fixed: victim === 'payment-service',
      });
    }

    await incidentDrill(s, loot['reporting-service'], add, print, tokenRequest);
  } finally {
    if (own) await s.stop();
  }

  const failures = rows.filter((r) => !r.ok);
  const positiveControls = rows.filter((r) => r.expected === 'allow' && r.ok).length;
  print(renderTable(rows));
  print(
    `\n==> breach drill: ${rows.length - failures.length}/${rows.length} expectations held, ${positiveControls} positive controls, ${rows.filter((r) => r.fixed).length} fixed assertions`,
  );
  if (options.writeOutputs !== false) {
    writeFileSync(
      join(ROOT, 'drill-results.json'),
      `${JSON.stringify({ at: new Date().toISOString(), rows, failures: failures.length }, null, 2)}\n`,
    );
    writeFileSync(join(ROOT, 'docs', 'blast-radius.md'), renderMarkdown(rows));
  }
  return { rows, failures, positiveControls };
}

/** Reporting-service compromised: rotate everything it holds; the attacker loses, the service keeps working. */
async function incidentDrill(
  s: Stack,
  loot: Loot,
  add: (row: Omit<DrillRow, 'ok'> & { ok?: boolean }) => void,
  print: (l: string) => void,
  tokenRequest: (
    l: Loot,
    scope: string,
  ) => Promise<{ status: number; json: Record<string, string> }>,
) {
  print(
    '\n==> incident drill: reporting-service declared compromised, rotating everything it holds',
  );
  const row = (capability: string, expected: 'allow' | 'deny', actual: string) =>
    add({
      service: 'incident',
      layer: capability.startsWith('redis')
        ? 'redis'
        : capability.startsWith('vault')
          ? 'vault'
          : 'oauth',
      capability,
      expected,
      actual,
    });
  const stolenToken = (await tokenRequest(loot, 'transactions:read')).json.access_token;
  const call = (token: string) =>
    httpsCall<Json>(`${s.sandbox.apiBaseUrl}/v1/transactions`, {
      ca: s.sandbox.caCert,
      cert: loot.secret.client_cert,
      key: loot.secret.client_key,
      headers: { authorization: `Bearer ${token}` },
    });

  // 1. provider secret: rotate, publish the new one in Vault, retire the old one
  const nextSecret = await s.sandbox.admin.rotateSecret('reporting-service');
  const newRedisPassword = randomBytes(32).toString('base64url');
  const kv = `${s.vault.addr}/v1/${secretDataPathOf('reporting-service')}`;
  await fetch(kv, {
    method: 'POST',
    headers: { 'x-vault-token': s.vault.rootToken },
    body: JSON.stringify({
      data: { ...loot.secret, client_secret: nextSecret, redis_password: newRedisPassword },
    }),
  });
  // 2. Redis: new password; drop every session that is not the running service's (named) ones
  const admin = s.redis.admin();
  await admin.call('ACL', 'SETUSER', 'reporting-service', 'resetpass', `>${newRedisPassword}`);
  // 3. wait for the real service to pick up the new version, then retire the old secret
  await new Promise((r) => setTimeout(r, 1500));
  await s.sandbox.admin.retirePreviousSecret('reporting-service');
  // 4. AppRole: a fresh wrapped secret-id for the real service's next start (the stolen one is single use)
  const wrapped = await fetch(`${s.vault.addr}/v1/auth/approle/role/reporting-service/secret-id`, {
    method: 'POST',
    headers: { 'x-vault-token': s.vault.rootToken, 'x-vault-wrap-ttl': '1h' },
  });
  row(
    'vault: new wrapped secret-id issued for the real service',
    'allow',
    wrapped.status === 200 ? 'allowed (200)' : `denied: ${wrapped.status}`,
  );

  const old = await tokenRequest(loot, 'transactions:read');
  row(
    "attacker's old client secret at the token endpoint",
    'deny',
    old.status === 200 ? 'allowed (200)' : `denied: ${old.json.error}`,
  );
  const oldRedis = new Redis({
    host: s.redis.host,
    port: s.redis.port,
    username: 'reporting-service',
    password: loot.secret.redis_password,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    lazyConnect: true,
    enableReadyCheck: false,
  });
  oldRedis.on('error', () => undefined);
  const redisResult = await oldRedis.connect().then(
    () => 'allowed',
    (e: Error) => `denied: ${e.message.split(' ')[0]}`,
  );
  oldRedis.disconnect();
  row("redis: attacker's old password", 'deny', redisResult);
  const stillValid = await call(stolenToken);
  print(
    `    attacker's already-issued token right after rotation: HTTP ${stillValid.status} (valid until it expires)`,
  );
  // the drill's stack issues short-lived tokens: wait out the lifetime plus the API's leeway
  const exp =
    (JSON.parse(Buffer.from(stolenToken.split('.')[1], 'base64url').toString()) as { exp: number })
      .exp * 1000;
  await new Promise((r) => setTimeout(r, Math.max(0, exp - Date.now()) + 6500));
  const expired = await call(stolenToken);
  row(
    "attacker's already-issued token after its lifetime",
    'deny',
    expired.status < 300
      ? `allowed (${expired.status})`
      : `denied: ${expired.status} ${expired.json?.error?.code}`,
  );

  // the real service never restarted
  const report = await fetch(`${s.services['reporting-service'].url}/reports/summary`);
  row(
    'real reporting-service still reads provider transactions (no restart)',
    'allow',
    report.status === 200 ? 'allowed (200)' : `denied: ${report.status}`,
  );
  const probe = new Redis({
    host: s.redis.host,
    port: s.redis.port,
    username: 'reporting-service',
    password: newRedisPassword,
    maxRetriesPerRequest: 1,
    enableReadyCheck: false,
  });
  probe.on('error', () => undefined);
  const fresh = await probe.llen('bull:payment-events:wait').then(
    () => 'allowed',
    (e: Error) => `denied: ${e.message.split(' ')[0]}`,
  );
  probe.disconnect();
  row('redis: the new password (what the real service now holds)', 'allow', fresh);
}

function renderTable(rows: DrillRow[]): string {
  const w = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
  const lines = [
    `\n${w('service', 18)} ${w('layer', 6)} ${w('capability', 58)} ${w('expected', 9)} ${w('actual', 42)} ok`,
  ];
  for (const r of rows)
    lines.push(
      `${w(r.service, 18)} ${w(r.layer, 6)} ${w(r.capability, 58)} ${w(r.expected === 'not enforced locally' ? 'n/a' : r.expected, 9)} ${w(r.actual, 42)} ${r.ok ? '✓' : '✗ FAIL'}${r.fixed ? ' (fixed)' : ''}`,
    );
  return lines.join('\n');
}

function renderMarkdown(rows: DrillRow[]): string {
  const out = [
    '# Blast radius',
    '',
    'Generated by `npm run drill` (the breach drill): what an attacker who owns each service can',
    'and cannot do, layer by layer, as observed against the running stack. Expected outcomes come',
    'from the access matrix; rows marked *fixed* hold whatever the matrix says. Do not edit by hand.',
    '',
  ];
  for (const service of [...SERVICE_NAMES, 'incident'] as const) {
    const mine = rows.filter((r) => r.service === service);
    out.push(
      `## ${service === 'incident' ? 'Incident drill: reporting-service rotated' : `${service} compromised`}`,
      '',
    );
    if (service !== 'incident')
      out.push(
        `Grant: scopes \`${grantOf(service).oauth.scopes.join(' ')}\`, queues \`${queuesOf(service).join(', ') || '-'}\`, Vault \`${secretDataPathOf(service)}\` (read).`,
        '',
      );
    out.push('| layer | capability | expected | observed | |', '|---|---|---|---|---|');
    for (const r of mine)
      out.push(
        `| ${r.layer} | ${r.capability}${r.fixed ? ' *(fixed)*' : ''} | ${r.expected} | ${r.actual} | ${r.ok ? '✓' : '✗'} |`,
      );
    out.push('');
  }
  return out.join('\n');
}

const argOf = (name: string) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};

if (require.main === module && argOf('--target') === 'compose') {
  // the breach drill from inside a running `docker compose` stack's containers
  import('./targets/compose')
    .then(({ runComposeDrill }) => runComposeDrill({ project: argOf('--project') }))
    .then((r) => process.exit(r.failures.length ? 1 : 0))
    .catch((err: unknown) => {
      console.error(
        `breach drill failed to run: ${err instanceof Error ? err.message : String(err)}`,
      );
      process.exit(1);
    });
} else if (require.main === module) {
  runDrill()
    .then((r) => process.exit(r.failures.length ? 1 : 0))
    .catch((err: unknown) => {
      console.error(
        `breach drill failed to run: ${err instanceof Error ? err.message : String(err)}`,
      );
      process.exit(1);
    });
}
