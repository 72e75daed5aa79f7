// The Vault side of Kubernetes auth, as code: enable the auth method, point it at the
// cluster's TokenReview API, write the policies generated from the access matrix, one
// role per service (role = ServiceAccount = policy = the service name) and, given where
// PostgreSQL is, the database engine the services read their logins from. Idempotent: a second
// run changes nothing. Run in the cluster by the Job in deploy/k8s/components/vault-auth,
// against vault-dev by vault-kubernetes.spec.ts. The equivalent `vault` commands are listed
// in docs/deploy-kubernetes.md.
import { SERVICE_NAMES, allVaultPolicies } from '@lpi/access-matrix';
import { describeErrors, vaultCall } from '@lpi/secrets';
import { configureDatabaseEngine, type DatabaseEngineOptions } from './database-engine';
import { readKubernetesAuthConfig } from './vault-kubernetes.config';

export interface KubernetesAuthOptions {
  vaultAddr: string;
  /** VAULT_CACERT's contents: the CA Vault's certificate must chain to. */
  vaultCaCert?: string;
  /** An operator token allowed to manage auth methods, policies and roles. */
  vaultToken: string;
  /** The cluster's API server as Vault reaches it (TokenReview is called there). */
  kubernetesHost: string;
  /** CA bundle of the API server (PEM); omitted when Vault trusts it already. */
  kubernetesCaCert?: string;
  /** Namespace the services' ServiceAccounts live in. */
  namespace: string;
  mount?: string;
  /** The projected ServiceAccount token's audience (the pods ask for `vault`). */
  audience?: string;
  tokenTtl?: number;
  tokenMaxTtl?: number;
  /** Vault's database secrets engine (PostgreSQL as Vault reaches it); skipped when absent. */
  database?: DatabaseEngineOptions;
  log?: (line: string) => void;
}

type Json = Record<string, unknown>;

async function call(o: KubernetesAuthOptions, method: string, path: string, body?: Json) {
  const vault = { addr: o.vaultAddr, ca: o.vaultCaCert };
  const res = await vaultCall(vault, method, path, { token: o.vaultToken, body });
  if (res.status >= 400 && res.status !== 404)
    throw new Error(
      `vault-kubernetes: ${method} ${path} answered ${res.status}: ${describeErrors(res)}`,
    );
  return res.status === 404 ? undefined : (res.body.data ?? undefined);
}

/** True when every desired field is already what Vault reports. */
const sameAs = (current: Json | undefined, desired: Json): boolean =>
  !!current &&
  Object.entries(desired).every(([k, v]) => JSON.stringify(current[k]) === JSON.stringify(v));

export async function configureKubernetesAuth(o: KubernetesAuthOptions): Promise<string[]> {
  const log = o.log ?? (() => undefined);
  const mount = o.mount ?? 'kubernetes';
  const changes: string[] = [];

  log(`[1/5] auth method at auth/${mount}`);
  const auths = (await call(o, 'GET', 'sys/auth')) ?? {};
  if (!auths[`${mount}/`]) {
    await call(o, 'POST', `sys/auth/${mount}`, { type: 'kubernetes' });
    changes.push(`enabled kubernetes auth at ${mount}/`);
  }

  log('[2/5] TokenReview endpoint and its CA');
  const config: Json = {
    kubernetes_host: o.kubernetesHost,
    ...(o.kubernetesCaCert ? { kubernetes_ca_cert: o.kubernetesCaCert } : {}),
  };
  if (!sameAs(await call(o, 'GET', `auth/${mount}/config`), config)) {
    // no token_reviewer_jwt: Vault runs in the cluster and calls TokenReview with its own
    // ServiceAccount token, which the system:auth-delegator binding allows
    await call(o, 'POST', `auth/${mount}/config`, config);
    changes.push(`auth/${mount}/config`);
  }

  log('[3/5] policies generated from the access matrix');
  for (const [name, policy] of Object.entries(allVaultPolicies())) {
    const current = await call(o, 'GET', `sys/policies/acl/${name}`);
    if (current?.policy !== policy) {
      await call(o, 'PUT', `sys/policies/acl/${name}`, { policy });
      changes.push(`policy ${name}`);
    }
  }

  log('[4/5] one role per service: its ServiceAccount, its namespace, its policy');
  for (const service of SERVICE_NAMES) {
    const role: Json = {
      bound_service_account_names: [service],
      bound_service_account_namespaces: [o.namespace],
      audience: o.audience ?? 'vault',
      token_policies: [service],
      token_ttl: o.tokenTtl ?? 900,
      token_max_ttl: o.tokenMaxTtl ?? 3600,
    };
    if (!sameAs(await call(o, 'GET', `auth/${mount}/role/${service}`), role)) {
      await call(o, 'POST', `auth/${mount}/role/${service}`, role);
      changes.push(`role ${service}`);
    }
  }
  log('[5/5] database secrets engine: one short-lived PostgreSQL login role per service');
  if (o.database) changes.push(...(await configureDatabaseEngine(databaseCall(o), o.database)));
  else log('      (no DATABASE_ADDRESS given: skipped)');
  log(changes.length ? `changed: ${changes.join(', ')}` : 'nothing to change');
  return changes;
}

/** The database step's Vault calls: the status and the whole answer, errors thrown. */
const databaseCall =
  (o: KubernetesAuthOptions) => async (method: string, path: string, body?: unknown) => {
    const vault = { addr: o.vaultAddr, ca: o.vaultCaCert };
    const res = await vaultCall(vault, method, path, { token: o.vaultToken, body });
    if (res.status >= 400 && res.status !== 404)
      throw new Error(
        `vault-kubernetes: ${method} ${path} answered ${res.status}: ${describeErrors(res)}`,
      );
    return { status: res.status, json: res.body as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };

if (require.main === module) {
  configureKubernetesAuth({ ...readKubernetesAuthConfig(), log: (l) => console.log(l) }).catch(
    (err: unknown) => {
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
