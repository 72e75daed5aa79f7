import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CALLER_NAMES,
  SERVICE_NAMES,
  callerScopesFor,
  identityRoleName,
  secretDataPathOf,
  servicesCalledBy,
  type ServiceName,
} from '@lpi/access-matrix';
import {
  CallerTokenSource,
  CallerTokenVerifier,
  CredentialSet,
  TokenManager,
  assertionPublicJwk,
  readCallerAuthConfig,
} from '@lpi/auth';
import { SecretsClient, SecretsError, type ServiceSecret } from '@lpi/secrets';
import {
  httpsCall,
  startSandbox,
  startVaultDev,
  tokenEndpointAuth,
  waitFor,
  type SandboxHandle,
  type VaultDevHandle,
} from '@lpi/testing';
import { runBootstrap, sandboxRegistrar, type BootstrapResult } from './bootstrap';
import { loginCaller } from '../demo/callers';

jest.setTimeout(90_000);

let vault: VaultDevHandle;
let sb: SandboxHandle;
let first: BootstrapResult;
const clients: SecretsClient[] = [];

const bootstrap = () =>
  runBootstrap({
    vaultAddr: vault.addr,
    vaultToken: vault.rootToken,
    registerClient: sandboxRegistrar(sb.apiBaseUrl, sb.adminToken, sb.caCert),
    clientCertificates: sb.pki.clients as Record<ServiceName, { cert: string; key: string }>,
  });

const connect = async (
  service: ServiceName,
  identity: BootstrapResult['identities'][ServiceName],
  pollIntervalMs = 100,
) => {
  const c = await SecretsClient.connect({
    vaultAddr: vault.addr,
    service,
    identity: { method: 'approle', ...identity },
    pollIntervalMs,
  });
  clients.push(c);
  return c;
};

/** A caller asking for a token every 20 ms until stopped: how many calls, how many failed. */
function underLoad(tm: TokenManager) {
  let failures = 0;
  let calls = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      calls += 1;
      await tm.getToken('provider').catch(() => (failures += 1));
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return { calls, failures };
    },
  };
}

beforeAll(async () => {
  [vault, sb] = await Promise.all([startVaultDev(), startSandbox({ rateLimitPerMinute: 10_000 })]);
  first = await bootstrap();
});
afterAll(async () => {
  clients.forEach((c) => c.close());
  await Promise.all([vault?.stop(), sb?.stop()]);
});

describe('bootstrap', () => {
  it('changes nothing when run a second time', async () => {
    expect(first.changes.length).toBeGreaterThan(0);
    const second = await bootstrap();
    expect(second.changes).toEqual([]);
    expect(second.secretVersions).toEqual(first.secretVersions);
    expect(second.redisPasswords).toEqual(first.redisPasswords);
  });

  it('writes each service only its own role-id and wrapped secret-id, 0600', async () => {
    const outDir = mkdtempSync(join(tmpdir(), 'bootstrap-out-'));
    try {
      // a file left from an earlier run with looser permissions is tightened too
      mkdirSync(join(outDir, 'payment-service'));
      writeFileSync(join(outDir, 'payment-service', 'role-id'), 'stale', { mode: 0o644 });
      const result = await runBootstrap({
        vaultAddr: vault.addr,
        vaultToken: vault.rootToken,
        registerClient: sandboxRegistrar(sb.apiBaseUrl, sb.adminToken, sb.caCert),
        clientCertificates: sb.pki.clients as Record<ServiceName, { cert: string; key: string }>,
        outDir,
      });
      for (const service of SERVICE_NAMES) {
        for (const [file, expected] of [
          ['role-id', result.identities[service].roleId],
          ['wrapped-secret-id', result.identities[service].wrappedSecretId],
        ]) {
          const path = join(outDir, service, file);
          expect(readFileSync(path, 'utf8')).toBe(expected);
          expect((statSync(path).mode & 0o777).toString(8)).toBe('600');
        }
      }
      // the wrapped secret-id on disk logs its service in, once
      const c = await connect('webhook-service', {
        roleId: readFileSync(join(outDir, 'webhook-service', 'role-id'), 'utf8'),
        wrappedSecretId: readFileSync(join(outDir, 'webhook-service', 'wrapped-secret-id'), 'utf8'),
      });
      expect(c.current().data.webhook_secret).toMatch(/^whsec_/);
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });

  it('gives each service an identity that reads its own secret and nothing else', async () => {
    const fresh = await bootstrap(); // new wrapped secret-ids
    for (const service of SERVICE_NAMES) {
      const c = await connect(service, fresh.identities[service]);
      expect(c.current().data.client_id).toBe(service);
      const caps = await c.capabilities(SERVICE_NAMES.map(secretDataPathOf));
      for (const other of SERVICE_NAMES)
        expect(caps[secretDataPathOf(other)]).toEqual(other === service ? ['read'] : ['deny']);
    }
  });

  it('gives each caller an identity that mints tokens for exactly its granted services, which they accept', async () => {
    const fresh = await bootstrap();
    const mint = async (vaultToken: string, role: string) =>
      fetch(`${vault.addr}/v1/identity/oidc/token/${role}`, {
        headers: { 'x-vault-token': vaultToken },
      });
    for (const caller of CALLER_NAMES) {
      const vaultToken = await loginCaller(vault.addr, fresh.callerIdentities[caller]);
      const source = new CallerTokenSource({
        vaultAddr: vault.addr,
        caller,
        vaultToken: () => vaultToken,
      });
      for (const service of SERVICE_NAMES) {
        const granted = servicesCalledBy(caller).includes(service);
        const verifier = new CallerTokenVerifier(
          service,
          readCallerAuthConfig(service, { VAULT_ADDR: vault.addr }),
        );
        if (granted) {
          const claims = await verifier.verify(await source.token(service));
          expect(claims).toMatchObject({
            caller,
            scopes: callerScopesFor(caller, service),
          });
        } else {
          // another caller's role for that service, if any: Vault's policy refuses it
          for (const other of CALLER_NAMES.filter((c) => servicesCalledBy(c).includes(service)))
            expect((await mint(vaultToken, identityRoleName(other, service))).status).toBe(403);
        }
      }
    }
    // a service's identity mints no caller token at all
    const c = await connect('reporting-service', fresh.identities['reporting-service']);
    const caps = await c.capabilities([
      `identity/oidc/token/${identityRoleName('finance-dashboard', 'reporting-service')}`,
      `identity/oidc/token/${identityRoleName('checkout', 'payment-service')}`,
    ]);
    expect(Object.values(caps)).toEqual([['deny'], ['deny']]);
  });

  it('refuses a wrapped secret-id that was already unwrapped (someone intercepted it)', async () => {
    const fresh = await bootstrap();
    await connect('refund-service', fresh.identities['refund-service']);
    await expect(
      connect('refund-service', fresh.identities['refund-service']),
    ).rejects.toMatchObject({ code: 'WRAPPING_TOKEN_INVALID' });
  });

  it('refuses a wrapped secret-id created for another service', async () => {
    const fresh = await bootstrap();
    await expect(
      connect('payment-service', {
        roleId: fresh.identities['payment-service'].roleId,
        wrappedSecretId: fresh.identities['reporting-service'].wrappedSecretId,
      }),
    ).rejects.toMatchObject({ code: 'WRAPPING_TOKEN_INVALID' });
  });

  it('fails start-up clearly when Vault is unreachable or a field is missing', async () => {
    await expect(
      SecretsClient.connect({
        vaultAddr: 'http://127.0.0.1:1',
        service: 'payment-service',
        identity: { method: 'token', token: 'x' },
      }),
    ).rejects.toMatchObject({ code: 'VAULT_UNREACHABLE' });
    const kv = `${vault.addr}/v1/secret/data/webhook-service`;
    const headers = { 'x-vault-token': vault.rootToken };
    const saved = ((await (await fetch(kv, { headers })).json()) as { data: { data: unknown } })
      .data.data;
    await fetch(kv, {
      method: 'POST',
      headers,
      body: JSON.stringify({ data: { client_id: 'webhook-service' } }),
    });
    const err = await SecretsClient.connect({
      vaultAddr: vault.addr,
      service: 'webhook-service',
      identity: { method: 'token', token: vault.rootToken },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SecretsError);
    expect((err as SecretsError).code).toBe('SECRET_FIELD_MISSING');
    expect((err as Error).message).toMatch(/client_secret/);
    expect((err as Error).message).not.toMatch(/hvs\./);
    await fetch(kv, { method: 'POST', headers, body: JSON.stringify({ data: saved }) });
  });

  it('hands a new KV version (a rotated provider secret) to the running token manager with no failed call', async () => {
    const fresh = await bootstrap();
    const secrets = await connect('reporting-service', fresh.identities['reporting-service']);
    const toCredential = (s: ServiceSecret) => ({
      clientId: s.data.client_id,
      clientSecret: s.data.client_secret,
      cert: s.data.client_cert,
      key: s.data.client_key,
      version: String(s.version),
    });
    const credentials = new CredentialSet(toCredential(secrets.current()));
    secrets.watchServiceSecret((s) => credentials.update(toCredential(s)));
    const tm = new TokenManager({
      issuer: sb.issuer,
      caCert: sb.caCert,
      clients: [{ name: 'provider', credentials, scopes: ['transactions:read'] }],
    });
    try {
      const load = underLoad(tm);
      // rotation runbook: new secret at the provider (old still valid), new KV version, retire old
      const next = await sb.admin.rotateSecret('reporting-service');
      const current = secrets.current();
      await fetch(`${vault.addr}/v1/${secretDataPathOf('reporting-service')}`, {
        method: 'POST',
        headers: { 'x-vault-token': vault.rootToken },
        body: JSON.stringify({ data: { ...current.data, client_secret: next } }),
      });
      await waitFor('the new version to reach the token manager', async () =>
        credentials.current().clientSecret === next ? true : undefined,
      );
      await sb.admin.retirePreviousSecret('reporting-service');
      const newToken = await tm.getToken('provider', {
        scopes: ['transactions:read'],
        resource: undefined,
      });
      expect(newToken.value).toBeTruthy();
      const { calls, failures } = await load.stop();
      expect(calls).toBeGreaterThan(0);
      expect(failures).toBe(0);
      expect(credentials.current().version).toBe(String(current.version + 1));
    } finally {
      tm.close();
    }
  });
  it('rotates the private_key_jwt key of refund-service under load, with no failed call', async () => {
    const fresh = await bootstrap();
    const secrets = await connect('refund-service', fresh.identities['refund-service']);
    const before = secrets.current();
    expect(before.data.client_secret).toBeUndefined(); // no shared secret exists anywhere
    const toCredential = (x: ServiceSecret) => ({
      clientId: x.data.client_id,
      assertionKey: x.data.client_assertion_key,
      cert: x.data.client_cert,
      key: x.data.client_key,
      version: String(x.version),
    });
    const credentials = new CredentialSet(toCredential(before));
    secrets.watchServiceSecret((x) => credentials.update(toCredential(x)));
    const tm = new TokenManager({
      issuer: sb.issuer,
      caCert: sb.caCert,
      clients: [
        {
          name: 'provider',
          credentials,
          scopes: ['refunds:write', 'refunds:read'],
          authMethod: 'private_key_jwt',
        },
      ],
    });
    const registration = (keys: string[]) =>
      sb.admin.registerClient('refund-service', {
        scopes: ['refunds:read', 'refunds:write'],
        token_endpoint_auth_method: 'private_key_jwt',
        jwks: { keys: keys.map((k) => assertionPublicJwk(k)) },
      });
    try {
      const load = underLoad(tm);
      // runbook: the provider trusts old and new keys, Vault gets the new one, the old retires
      const oldKey = before.data.client_assertion_key;
      const newKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString();
      await registration([oldKey, newKey]);
      await fetch(`${vault.addr}/v1/${secretDataPathOf('refund-service')}`, {
        method: 'POST',
        headers: { 'x-vault-token': vault.rootToken },
        body: JSON.stringify({ data: { ...before.data, client_assertion_key: newKey } }),
      });
      await waitFor('the new key to reach the token manager', async () =>
        credentials.current().assertionKey === newKey ? true : undefined,
      );
      expect((await tm.getToken('provider')).value).toBeTruthy(); // signed with the new key
      await registration([newKey]);
      const fresh2 = await tm.getToken('provider', { scopes: ['refunds:read'] });
      expect(fresh2.value).toBeTruthy();
      const { calls, failures } = await load.stop();
      expect(calls).toBeGreaterThan(0);
      expect(failures).toBe(0);
      // the retired key is worthless now
      const retired = tokenEndpointAuth(
        { client_id: 'refund-service', client_assertion_key: oldKey },
        sb.issuer,
      );
      const refused = await httpsCall<Record<string, string>>(sb.tokenEndpoint, {
        method: 'POST',
        ca: sb.caCert,
        cert: before.data.client_cert,
        key: before.data.client_key,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          scope: 'refunds:read',
          ...retired.form,
        }).toString(),
      });
      expect(refused.json.error).toBe('invalid_client');
    } finally {
      tm.close();
    }
  });
});
