import {
  badRequest,
  duration,
  notFound,
  VaultError,
  type Backend,
  type Reply,
  type Route,
  type RouteRequest,
} from '../backend';
import { authBlock, type TokenStore } from '../token-store';
import type { AuthMount, IdentityStore } from './identity-store';
import { sanitizePolicies } from './token';

interface K8sRole {
  names: string[];
  namespaces: string[];
  policies: string[];
  ttl: number;
  maxTtl: number;
  aliasNameSource: string;
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string };
}

export interface KubernetesDeps {
  tokens: TokenStore;
  identity: IdentityStore;
  mount: () => AuthMount | undefined;
}

const list = (v: unknown) =>
  Array.isArray(v)
    ? v.map(String)
    : String(v ?? '')
        .split(',')
        .filter(Boolean);

/**
 * vault-plugin-auth-kubernetes: config, roles, and a login that always asks the configured
 * TokenReview endpoint, as Vault does.
 */
export class KubernetesBackend implements Backend {
  readonly mount = 'auth/kubernetes/';
  readonly type = 'kubernetes';
  readonly routes: Route[];
  private readonly roles = new Map<string, K8sRole>();
  private config?: { kubernetes_host: string };

  constructor(private readonly deps: KubernetesDeps) {
    this.routes = [
      {
        pattern: /^config$/,
        operations: {
          read: () => ({ data: this.config ?? null }),
          update: (r) => {
            this.config = { kubernetes_host: String(r.body.kubernetes_host ?? '') };
            return null;
          },
        },
      },
      {
        pattern: /^role\/([^/]+)$/,
        exists: ({ params }) => this.roles.has(params[0]),
        operations: {
          read: (r) => this.readRole(r.params[0]),
          create: (r) => this.writeRole(r),
          update: (r) => this.writeRole(r),
          delete: (r) => (void this.roles.delete(r.params[0]), null),
        },
      },
      { pattern: /^login$/, unauthenticated: true, operations: { update: (r) => this.login(r) } },
    ];
  }

  enabled(): boolean {
    return !!this.deps.mount();
  }

  private readRole(name: string): Reply {
    const r = this.roles.get(name);
    if (!r) throw notFound();
    return {
      data: {
        bound_service_account_names: r.names,
        bound_service_account_namespaces: r.namespaces,
        token_policies: r.policies,
        token_ttl: r.ttl,
        token_max_ttl: r.maxTtl,
        alias_name_source: r.aliasNameSource,
      },
    };
  }

  private writeRole({ params: [name], body }: RouteRequest): Reply {
    const role: K8sRole = {
      names: list(body.bound_service_account_names),
      namespaces: list(body.bound_service_account_namespaces),
      policies: list(body.token_policies ?? body.policies),
      ttl: duration(body.token_ttl, 3600),
      maxTtl: duration(body.token_max_ttl, 86400),
      aliasNameSource: String(body.alias_name_source ?? 'serviceaccount_uid'),
    };
    if (!['serviceaccount_uid', 'serviceaccount_name'].includes(role.aliasNameSource))
      throw badRequest(`invalid alias_name_source: ${role.aliasNameSource}`);
    if (role.ttl > role.maxTtl)
      throw badRequest("'token_ttl' cannot be greater than 'token_max_ttl'");
    this.roles.set(name, role);
    return null;
  }

  private async review(host: string, jwt: string): Promise<TokenReviewStatus | undefined> {
    const res = await fetch(`${host}/apis/authentication.k8s.io/v1/tokenreviews`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token: jwt },
      }),
    }).catch(() => undefined);
    const json = (await res?.json().catch(() => undefined)) as
      { status?: TokenReviewStatus } | undefined;
    return json?.status;
  }

  private async login({ body }: RouteRequest): Promise<Reply> {
    const role = this.roles.get(String(body.role ?? ''));
    if (!role) throw badRequest(`invalid role name "${String(body.role)}"`);
    if (!this.config?.kubernetes_host) throw badRequest('could not load backend configuration');
    const status = await this.review(this.config.kubernetes_host, String(body.jwt ?? ''));
    if (!status?.authenticated) throw new VaultError(403, ['permission denied']);
    const [, , namespace, name] = String(status.user?.username ?? '').split(':');
    if (!role.names.includes(name) && !role.names.includes('*'))
      throw new VaultError(403, ['service account name not authorized']);
    if (!role.namespaces.includes(namespace) && !role.namespaces.includes('*'))
      throw new VaultError(403, ['namespace not authorized']);
    const uid = String(status.user?.uid ?? '');
    const meta = {
      service_account_name: name,
      service_account_namespace: namespace,
      service_account_secret_name: '',
      service_account_uid: uid,
    };
    // alias_name_source: serviceaccount_uid (the default) or serviceaccount_name
    const aliasName =
      role.aliasNameSource === 'serviceaccount_name' || !uid ? `${namespace}/${name}` : uid;
    const entity = this.deps.identity.entityForLogin(this.deps.mount()!, aliasName, meta);
    const t = this.deps.tokens.create({
      policies: sanitizePolicies(role.policies, true),
      ttl: role.ttl,
      maxTtl: role.maxTtl,
      path: 'auth/kubernetes/login',
      displayName: `kubernetes-${namespace}-${name}`,
      meta: { role: String(body.role), ...meta },
      entityId: entity.id,
      renewable: true,
      numUses: 0,
    });
    return { auth: authBlock(t) };
  }
}
