// What an attacker who owns a service holds: its Vault secret (OAuth client, certificate and
// key, Redis password), a live Vault token from its AppRole login, and the secret-id it used.
import { randomBytes } from 'node:crypto';
import { SERVICE_NAMES, secretDataPathOf, type ServiceName } from '@lpi/access-matrix';
import type { Stack } from '../demo/stack';
import { vaultCall, type CertPair } from './clients';

export interface Loot {
  service: ServiceName;
  secret: Record<string, string>;
  vaultToken: string;
  usedSecretId: { roleId: string; secretId: string };
}

export const certOf = (l: Loot): CertPair => ({
  cert: l.secret.client_cert,
  key: l.secret.client_key,
});

/** Logs in as the service (a fresh secret-id, as its own start would) and reads its secret. */
export async function lootOf(s: Stack, service: ServiceName): Promise<Loot> {
  const root = s.vault.rootToken;
  const secret = (await vaultCall(s.vault.addr, 'GET', secretDataPathOf(service), root)).json.data
    .data as Record<string, string>;
  const roleId = (
    await vaultCall(s.vault.addr, 'GET', `auth/approle/role/${service}/role-id`, root)
  ).json.data.role_id as string;
  const secretId = (
    await vaultCall(s.vault.addr, 'POST', `auth/approle/role/${service}/secret-id`, root)
  ).json.data.secret_id as string;
  const login = await vaultCall(s.vault.addr, 'POST', 'auth/approle/login', undefined, {
    role_id: roleId,
    secret_id: secretId,
  });
  return {
    service,
    secret,
    vaultToken: login.json.auth.client_token as string,
    usedSecretId: { roleId, secretId },
  };
}

export async function lootAll(s: Stack): Promise<Record<ServiceName, Loot>> {
  const loot = {} as Record<ServiceName, Loot>;
  for (const service of SERVICE_NAMES) loot[service] = await lootOf(s, service);
  return loot;
}

/** A real payment to aim refunds at (the ledger's first, or one checkout makes through payment-service). */
export async function seedPayment(s: Stack): Promise<string> {
  const first = async () => (await s.sandbox.admin.ledger()).payments[0]?.id as string | undefined;
  let paymentId = await first();
  if (!paymentId) {
    await s.callers.checkout.post(
      'payment-service',
      '/payments',
      `drill-seed-${randomBytes(4).toString('hex')}`,
      { amount: 5000, currency: 'EUR' },
    );
    for (let i = 0; i < 100 && !paymentId; i += 1) {
      await new Promise((r) => setTimeout(r, 100));
      paymentId = await first();
    }
  }
  return paymentId ?? 'pp_none';
}
