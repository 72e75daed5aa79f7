// Reporting-service compromised: rotate everything it holds; the attacker loses, the
// service keeps working.
import { randomBytes } from 'node:crypto';
import Redis from 'ioredis';
import { secretDataPathOf } from '@lpi/access-matrix';
import { httpsCall } from '@lpi/testing';
import { tokenRequest, vaultCall, type Json } from './clients';
import type { Loot } from './loot';
import type { ProbeContext } from './probes/context';
import { allowed, denied, httpOutcome, settle, tokenOutcome, type Layer } from './rows';

export async function incidentSection(ctx: ProbeContext, loot: Loot): Promise<void> {
  const { stack: s, print } = ctx;
  print(
    '\n==> incident drill: reporting-service declared compromised, rotating everything it holds',
  );
  const row = (
    layer: Layer,
    capability: string,
    expected: 'allow' | 'deny',
    outcome: ReturnType<typeof allowed>,
  ) => ctx.rows.add({ service: 'incident', layer, capability, expected, outcome });
  const stolenToken = (await tokenRequest(s, loot.secret, 'transactions:read')).json.access_token;
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
  await vaultCall(s.vault.addr, 'POST', secretDataPathOf('reporting-service'), s.vault.rootToken, {
    data: { ...loot.secret, client_secret: nextSecret, redis_password: newRedisPassword },
  });
  // 2. Redis: new password
  await s.redis
    .admin()
    .call('ACL', 'SETUSER', 'reporting-service', 'resetpass', `>${newRedisPassword}`);
  // 3. wait for the real service to pick up the new version, then retire the old secret
  await new Promise((r) => setTimeout(r, 1500));
  await s.sandbox.admin.retirePreviousSecret('reporting-service');
  // 4. AppRole: a fresh wrapped secret-id for the real service's next start
  const wrapped = await fetch(`${s.vault.addr}/v1/auth/approle/role/reporting-service/secret-id`, {
    method: 'POST',
    headers: { 'x-vault-token': s.vault.rootToken, 'x-vault-wrap-ttl': '1h' },
  });
  row(
    'vault',
    'vault: new wrapped secret-id issued for the real service',
    'allow',
    wrapped.status === 200 ? allowed('200') : denied(String(wrapped.status)),
  );

  const old = await tokenRequest(s, loot.secret, 'transactions:read');
  row('oauth', "attacker's old client secret at the token endpoint", 'deny', tokenOutcome(old));
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
    () => allowed('connected'),
    (e: Error) => denied(e.message.split(' ')[0]),
  );
  oldRedis.disconnect();
  row('redis', "redis: attacker's old password", 'deny', redisResult);
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
    'oauth',
    "attacker's already-issued token after its lifetime",
    'deny',
    httpOutcome(expired.status, expired.json?.error?.code),
  );

  // the real service never restarted
  const report = await fetch(`${s.services['reporting-service'].url}/reports/summary`);
  row(
    'oauth',
    'real reporting-service still reads provider transactions (no restart)',
    'allow',
    httpOutcome(report.status),
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
  const fresh = await settle(() => probe.llen('bull:payment-events:wait'));
  probe.disconnect();
  row('redis', 'redis: the new password (what the real service now holds)', 'allow', fresh);
}
