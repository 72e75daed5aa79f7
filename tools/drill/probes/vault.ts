// Vault: the service's identity reads its own secret and nothing else; it cannot write,
// list, mint tokens, write policies, make secret-ids for others, or log in again.
import { SERVICE_NAMES, secretDataPathOf } from '@lpi/access-matrix';
import { vaultCall } from '../clients';
import { allowed, denied, httpOutcome } from '../rows';
import type { Probe } from './context';

export const vaultProbe: Probe = async (ctx, service) => {
  const { stack: s, loot, rows } = ctx;
  const l = loot[service];
  const row = rows.for(service, 'vault');
  const call = (method: string, path: string, body?: unknown) =>
    vaultCall(s.vault.addr, method, path, l.vaultToken, body);
  const others = SERVICE_NAMES.filter((x) => x !== service);

  const own = await call('GET', secretDataPathOf(service));
  row(`read ${secretDataPathOf(service)}`, 'allow', httpOutcome(own.status));
  const write = await call('POST', secretDataPathOf(service), { data: { client_id: 'x' } });
  row(`write ${secretDataPathOf(service)} (own, read-only)`, 'deny', httpOutcome(write.status));
  for (const target of others) {
    const r = await call('GET', secretDataPathOf(target));
    row(`read ${secretDataPathOf(target)}`, 'deny', httpOutcome(r.status));
    const w = await call('POST', secretDataPathOf(target), { data: { client_secret: 'attacker' } });
    row(`write ${secretDataPathOf(target)}`, 'deny', httpOutcome(w.status));
  }
  const list = await call('GET', 'secret/metadata/?list=true');
  row('list secret/metadata/', 'deny', httpOutcome(list.status));
  const caps = await call('POST', 'sys/capabilities-self', {
    paths: SERVICE_NAMES.map(secretDataPathOf),
  });
  const othersDenied = others.every(
    (x) => JSON.stringify(caps.json.data?.[secretDataPathOf(x)]) === '["deny"]',
  );
  row(
    "sys/capabilities-self on other services' paths",
    'deny',
    othersDenied ? denied('["deny"] for every other path') : allowed('some capability'),
  );
  const other = others[0];
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
    const r = await call('POST', path, body);
    row(what, 'deny', httpOutcome(r.status));
  }
  const reuse = await vaultCall(s.vault.addr, 'POST', 'auth/approle/login', undefined, {
    role_id: l.usedSecretId.roleId,
    secret_id: l.usedSecretId.secretId,
  });
  row('log in again with the stolen (used) secret-id', 'deny', httpOutcome(reuse.status));
};
