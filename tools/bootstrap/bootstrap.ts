// `npm run bootstrap`: one idempotent command, the same code against vault-dev and a real
// Vault. Enables AppRole and KV v2, writes the generated policies, creates one AppRole per
// service and per caller, the identity-token key and one token role per granted (caller,
// service) pair, registers each service's OAuth client at the provider with exactly its
// scopes, stores its secret at its own path, and hands each service and each caller only its
// own role-id and a response-wrapped secret-id.
import { X509Certificate, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import {
  CALLER_NAMES,
  CALLER_TOKEN_KEY,
  SERVICE_NAMES,
  allGeneratedPolicies,
  callerGrants,
  callerScopesFor,
  grantOf,
  identityRoleName,
  type CallerName,
  secretDataPathOf,
  type ServiceName,
} from '@lpi/access-matrix';
import { assertionPublicJwk } from '@lpi/auth';
import { renderRedisAcl } from '@lpi/messaging';
import { configureDatabaseEngine, type DatabaseEngineOptions } from './database-engine';

export interface ClientRegistrar {
  (
    clientId: string,
    registration: Record<string, unknown>,
  ): Promise<{ client_id: string; client_secret?: string }>;
}

export interface BootstrapOptions {
  vaultAddr: string;
  vaultToken: string;
  /** Registers an OAuth client at the provider (the sandbox admin API, or your provider's). */
  registerClient: ClientRegistrar;
  /** Each service's mTLS client certificate and key (PEM). */
  clientCertificates: Record<ServiceName, { cert: string; key: string }>;
  /** Where `<service>/role-id` and `<service>/wrapped-secret-id` are written (0600). */
  outDir?: string;
  wrapTtl?: string;
  /** Caller token lifetime (the identity roles' `ttl`), seconds. */
  callerTokenTtlSeconds?: number;
  /**
   * `scheme://host[:port]` the services reach Vault at, written to `identity/oidc/config` so
   * the tokens' `iss` is what they expect (`<VAULT_ADDR>/v1/identity/oidc`); unset keeps
   * Vault's `api_addr`.
   */
  identityIssuer?: string;
  /** Vault's database secrets engine: the services' short-lived PostgreSQL logins. */
  database?: DatabaseEngineOptions;
  log?: (line: string) => void;
}

export interface BootstrapResult {
  identities: Record<ServiceName, { roleId: string; wrappedSecretId: string }>;
  /** The callers' own Vault identities (`<outDir>/<caller>/role-id`, `wrapped-secret-id`). */
  callerIdentities: Record<CallerName, { roleId: string; wrappedSecretId: string }>;
  redisPasswords: Record<ServiceName, string>;
  /** KV versions after the run: unchanged on a second run. */
  secretVersions: Record<ServiceName, number>;
  changes: string[];
}

async function vault(
  addr: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  wrapTtl?: string,
) {
  const res = await fetch(`${addr}/v1/${path}`, {
    method,
    headers: {
      'X-Vault-Token': token,
      'X-Vault-Request': 'true',
      ...(wrapTtl ? { 'X-Vault-Wrap-TTL': wrapTtl } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  const json = (text ? JSON.parse(text) : {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (res.status >= 400 && res.status !== 404)
    throw new Error(
      `bootstrap: Vault ${method} ${path} answered ${res.status}: ${(json.errors ?? []).join('; ')}`,
    );
  return { status: res.status, json };
}

export async function runBootstrap(o: BootstrapOptions): Promise<BootstrapResult> {
  const log = o.log ?? (() => undefined);
  const v = (method: string, path: string, body?: unknown, wrapTtl?: string) =>
    vault(o.vaultAddr, o.vaultToken, method, path, body, wrapTtl);
  const changes: string[] = [];

  log('[1/7] secret engines and auth methods');
  const mounts = (await v('GET', 'sys/mounts')).json.data ?? {};
  if (!mounts['secret/']) {
    await v('POST', 'sys/mounts/secret', { type: 'kv', options: { version: '2' } });
    changes.push('mounted kv-v2 at secret/');
  } else if (mounts['secret/'].options?.version !== '2') {
    throw new Error(
      'bootstrap: secret/ is mounted but is not KV version 2; migrate it or mount KV v2 elsewhere',
    );
  }
  const auths = (await v('GET', 'sys/auth')).json.data ?? {};
  if (!auths['approle/']) {
    await v('POST', 'sys/auth/approle', { type: 'approle' });
    changes.push('enabled approle auth');
  }

  log('[2/7] policies generated from the access matrix (services and callers)');
  for (const [service, hcl] of Object.entries(allGeneratedPolicies())) {
    const current = await v('GET', `sys/policies/acl/${service}`);
    if (current.json.data?.policy !== hcl) {
      await v('PUT', `sys/policies/acl/${service}`, { policy: hcl });
      changes.push(`policy ${service}`);
    }
  }

  log('[3/7] one AppRole per service and per caller');
  for (const service of [...SERVICE_NAMES, ...CALLER_NAMES]) {
    const desired = {
      token_policies: [service],
      token_ttl: 3600,
      token_max_ttl: 86400 * 30,
      secret_id_num_uses: 1,
      secret_id_ttl: 3600,
    };
    const current = (await v('GET', `auth/approle/role/${service}`)).json.data;
    const same =
      current &&
      current.token_policies?.join() === service &&
      current.secret_id_num_uses === 1 &&
      current.token_ttl === desired.token_ttl &&
      current.token_max_ttl === desired.token_max_ttl &&
      current.secret_id_ttl === desired.secret_id_ttl;
    if (!same) {
      await v('POST', `auth/approle/role/${service}`, desired);
      changes.push(`approle ${service}`);
    }
  }

  log('[4/7] caller tokens: the signing key, one identity role per granted (caller, service)');
  if (o.identityIssuer) {
    const issuer = (await v('GET', 'identity/oidc/config')).json.data?.issuer;
    if (issuer !== o.identityIssuer) {
      await v('POST', 'identity/oidc/config', { issuer: o.identityIssuer });
      changes.push('identity token issuer');
    }
  }
  changes.push(...(await identityRoles(v, o.callerTokenTtlSeconds ?? 300)));

  log('[5/7] database secrets engine: one short-lived PostgreSQL login role per service');
  if (o.database) changes.push(...(await configureDatabaseEngine(v, o.database)));
  else log('      (no database given: skipped)');

  log('[6/7] provider clients and per-service secrets');
  const redisPasswords = {} as Record<ServiceName, string>;
  const secretVersions = {} as Record<ServiceName, number>;
  for (const service of SERVICE_NAMES) {
    const g = grantOf(service);
    const existing = (await v('GET', secretDataPathOf(service))).json.data;
    const old = (existing?.data ?? {}) as Record<string, string>;
    // private_key_jwt: the key is made here, its private half goes to Vault only and its
    // public half to the provider; a key already in Vault is kept
    const keyJwt = g.oauth.tokenEndpointAuthMethod === 'private_key_jwt';
    const assertionKey = keyJwt
      ? (old.client_assertion_key ??
        generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString())
      : undefined;
    const reg = await o.registerClient(service, {
      scopes: [...g.oauth.scopes],
      token_endpoint_auth_method: g.oauth.tokenEndpointAuthMethod,
      // RFC 8705: tokens are bound only to this service's own certificate (its DN and x5t#S256)
      tls_client_auth_subject_dn: `CN=${service}`,
      tls_client_certificate_thumbprints: [
        createHash('sha256')
          .update(new X509Certificate(o.clientCertificates[service].cert).raw)
          .digest('base64url'),
      ],
      ...(assertionKey ? { jwks: { keys: [assertionPublicJwk(assertionKey)] } } : {}),
      refresh_tokens: g.oauth.refreshTokens,
      certificate_bound: true,
    });
    const desired: Record<string, string> = {
      client_id: reg.client_id,
      ...(assertionKey
        ? { client_assertion_key: assertionKey }
        : // the provider returns a secret only when it creates the client: keep the stored one
          { client_secret: reg.client_secret ?? old.client_secret ?? '' }),
      client_cert: o.clientCertificates[service].cert,
      client_key: o.clientCertificates[service].key,
      redis_password: old.redis_password ?? randomBytes(32).toString('base64url'),
    };
    if (g.vault.secretFields.includes('webhook_secret')) {
      desired.webhook_secret = old.webhook_secret ?? `whsec_${randomBytes(32).toString('base64')}`;
    }
    if (!keyJwt && !desired.client_secret)
      throw new Error(
        `bootstrap: ${service} exists at the provider but no client secret is stored in Vault; rotate it at the provider and rerun`,
      );
    const sameContent =
      JSON.stringify(Object.entries(old).sort()) === JSON.stringify(Object.entries(desired).sort());
    if (!sameContent) {
      await v('POST', secretDataPathOf(service), { data: desired });
      changes.push(`secret ${service}`);
    }
    redisPasswords[service] = desired.redis_password;
    secretVersions[service] = Number(
      (await v('GET', `secret/metadata/${service}`)).json.data?.current_version ?? 0,
    );
  }

  log('[7/7] role-id and a wrapped secret-id for each service and each caller');
  const identities = {} as Record<string, { roleId: string; wrappedSecretId: string }>;
  for (const service of [...SERVICE_NAMES, ...CALLER_NAMES]) {
    const roleId = (await v('GET', `auth/approle/role/${service}/role-id`)).json.data
      .role_id as string;
    const wrapped = await v(
      'POST',
      `auth/approle/role/${service}/secret-id`,
      {},
      o.wrapTtl ?? '1h',
    );
    const wrappedSecretId = wrapped.json.wrap_info?.token as string;
    identities[service] = { roleId, wrappedSecretId };
    if (o.outDir) {
      const dir = join(o.outDir, service);
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      for (const [name, value] of [
        ['role-id', roleId],
        ['wrapped-secret-id', wrappedSecretId],
      ]) {
        writeFileSync(join(dir, name), value, { mode: 0o600 });
        chmodSync(join(dir, name), 0o600); // `mode` only applies when the file is created
      }
    }
  }
  log(changes.length ? `changed: ${changes.join(', ')}` : 'nothing to change');
  return {
    identities: identities as BootstrapResult['identities'],
    callerIdentities: identities as BootstrapResult['callerIdentities'],
    redisPasswords,
    secretVersions,
    changes,
  };
}

type VaultCall = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; json: Record<string, any> }>; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The template of a (caller, service) role: the caller's name as `client_id` (RFC 9068) and
 * the route scopes the matrix grants it on that service, fixed by the role so a caller cannot
 * choose them; `nbf` first (a template ending in `}}` is misparsed by Vault).
 */
export const identityTemplate = (caller: CallerName, service: ServiceName): string =>
  JSON.stringify({
    nbf: 0,
    client_id: caller,
    scope: callerScopesFor(caller, service).join(' '),
  }).replace('"nbf":0', '"nbf":{{time.now}}');

/**
 * The named key that signs caller tokens (allowed for exactly the services' audiences) and one
 * role per granted (caller, service): `client_id` = the service, so `aud` is the service.
 */
async function identityRoles(v: VaultCall, ttl: number): Promise<string[]> {
  const changes: string[] = [];
  const grants = callerGrants();
  const audiences = [...new Set(grants.map((g) => g.service))].sort();
  const key = {
    algorithm: 'RS256',
    rotation_period: 86_400,
    verification_ttl: 86_400,
    allowed_client_ids: audiences,
  };
  const current = (await v('GET', `identity/oidc/key/${CALLER_TOKEN_KEY}`)).json.data;
  if (
    !current ||
    current.algorithm !== key.algorithm ||
    current.rotation_period !== key.rotation_period ||
    current.verification_ttl !== key.verification_ttl ||
    [...(current.allowed_client_ids ?? [])].sort().join() !== audiences.join()
  ) {
    await v('POST', `identity/oidc/key/${CALLER_TOKEN_KEY}`, key);
    changes.push(`identity key ${CALLER_TOKEN_KEY}`);
  }
  for (const { caller, service } of grants) {
    const name = identityRoleName(caller, service);
    const role = {
      key: CALLER_TOKEN_KEY,
      client_id: service,
      ttl,
      template: identityTemplate(caller, service),
    };
    const have = (await v('GET', `identity/oidc/role/${name}`)).json.data;
    if (
      !have ||
      have.key !== role.key ||
      have.client_id !== role.client_id ||
      have.ttl !== role.ttl ||
      have.template !== role.template
    ) {
      await v('POST', `identity/oidc/role/${name}`, role);
      changes.push(`identity role ${name}`);
    }
  }
  return changes;
}

/** A registrar for the provider sandbox's admin API (HTTPS, its CA). */
export function sandboxRegistrar(
  apiBaseUrl: string,
  adminToken: string,
  caCert: string,
): ClientRegistrar {
  return (clientId, registration) =>
    new Promise((resolve, reject) => {
      const body = JSON.stringify(registration);
      const req = request(
        `${apiBaseUrl}/admin/clients/${clientId}`,
        {
          method: 'PUT',
          ca: caCert,
          headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
        },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => {
            if ((res.statusCode ?? 500) >= 300)
              return reject(
                new Error(
                  `bootstrap: the provider refused to register ${clientId} (HTTP ${res.statusCode})`,
                ),
              );
            resolve(JSON.parse(text) as { client_id: string; client_secret?: string });
          });
        },
      );
      req.on('error', (err) =>
        reject(new Error(`bootstrap: the provider admin API is unreachable (${err.message})`)),
      );
      req.end(body);
    });
}

export const SCRIPT_LOADER_USERNAME = 'script-loader';

/**
 * The CLI's Redis files: `<outDir>/redis/users.acl` (hashes only, for the server) with the
 * script loader's user (ADR 0018), and that user's password in
 * `<outDir>/redis-scripts/password` (0600, for `npm run redis:load-scripts`). The password is
 * generated once and kept on later runs, so a running loader stays logged in.
 */
export function writeRedisFiles(
  outDir: string,
  passwords: Readonly<Record<ServiceName, string>>,
): void {
  const loaderDir = join(outDir, 'redis-scripts');
  const loaderFile = join(loaderDir, 'password');
  mkdirSync(loaderDir, { recursive: true });
  if (!existsSync(loaderFile))
    writeFileSync(loaderFile, randomBytes(32).toString('base64url'), { mode: 0o600 });
  const scriptLoader = {
    username: SCRIPT_LOADER_USERNAME,
    password: readFileSync(loaderFile, 'utf8').trim(),
  };
  mkdirSync(join(outDir, 'redis'), { recursive: true });
  writeFileSync(join(outDir, 'redis', 'users.acl'), renderRedisAcl({ passwords, scriptLoader }), {
    mode: 0o644,
  });
}

if (require.main === module) {
  // CLI: VAULT_ADDR, VAULT_TOKEN, SANDBOX_ADMIN_URL, SANDBOX_ADMIN_TOKEN, PROVIDER_CA_FILE,
  // BOOTSTRAP_CERT_DIR (<service>.crt/.key), --out <dir> (also gets redis/users.acl and the
  // script loader's password, redis-scripts/password: see writeRedisFiles),
  // optional BOOTSTRAP_IDENTITY_ISSUER (the Vault address services use, for caller tokens' iss),
  // optional BOOTSTRAP_DATABASE_ADDRESS (host:port Vault reaches PostgreSQL at) with
  // BOOTSTRAP_DATABASE_ADMIN_PASSWORD_FILE (what `npm run db:migrate` gave lpi_vault_admin).
  void (async () => {
    const env = (name: string) => {
      const v = process.env[name];
      if (!v) throw new Error(`bootstrap: ${name} is required`);
      return v;
    };
    const outIdx = process.argv.indexOf('--out');
    const outDir = outIdx > 0 ? process.argv[outIdx + 1] : undefined;
    const certDir = env('BOOTSTRAP_CERT_DIR');
    const result = await runBootstrap({
      vaultAddr: env('VAULT_ADDR'),
      vaultToken: env('VAULT_TOKEN'),
      registerClient: sandboxRegistrar(
        env('SANDBOX_ADMIN_URL'),
        env('SANDBOX_ADMIN_TOKEN'),
        readFileSync(env('PROVIDER_CA_FILE'), 'utf8'),
      ),
      clientCertificates: Object.fromEntries(
        SERVICE_NAMES.map((s) => [
          s,
          {
            cert: readFileSync(join(certDir, `${s}.crt`), 'utf8'),
            key: readFileSync(join(certDir, `${s}.key`), 'utf8'),
          },
        ]),
      ) as BootstrapOptions['clientCertificates'],
      outDir,
      identityIssuer: process.env.BOOTSTRAP_IDENTITY_ISSUER || undefined,
      database: process.env.BOOTSTRAP_DATABASE_ADDRESS
        ? {
            address: process.env.BOOTSTRAP_DATABASE_ADDRESS,
            adminPassword: readFileSync(
              env('BOOTSTRAP_DATABASE_ADMIN_PASSWORD_FILE'),
              'utf8',
            ).trim(),
          }
        : undefined,
      log: (line) => console.log(line),
    });
    if (outDir) writeRedisFiles(outDir, result.redisPasswords);
  })().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  });
}
