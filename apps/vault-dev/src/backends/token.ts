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
import { authBlock, describeToken, type Token, type TokenStore } from '../token-store';

/** 0 in a max TTL means the system max, 32 days on a fresh Vault. */
export const SYSTEM_MAX_TTL = 32 * 24 * 3600;

const list = (v: unknown): string[] =>
  (Array.isArray(v) ? v.map(String) : v === undefined || v === null ? [] : String(v).split(','))
    .map((p) => p.trim().toLowerCase())
    .filter(Boolean);
const bool = (v: unknown) => v === true || v === 'true';

/** policyutil.SanitizePolicies: trimmed, lower-cased, unique, sorted, `default` unless root. */
export function sanitizePolicies(policies: string[], addDefault: boolean): string[] {
  const set = new Set(policies.map((p) => p.trim().toLowerCase()).filter(Boolean));
  if (addDefault && !set.has('root')) set.add('default');
  return [...set].sort();
}

/**
 * The token store's own paths (vault/token_store.go): create (child or orphan, with the
 * policy-subset rule), lookup by token, self or accessor, the accessor list (sudo), renew and
 * revoke (tree, orphan, self, accessor).
 */
export class TokenBackend implements Backend {
  readonly mount = 'auth/token/';
  readonly type = 'token';
  readonly routes: Route[];

  constructor(
    private readonly store: TokenStore,
    private readonly now: () => number,
  ) {
    const self = (r: RouteRequest) => this.store.get(r.caller!.id)!;
    const byToken = (r: RouteRequest) => {
      const id = String(r.body.token ?? '');
      if (!id) throw badRequest('missing token ID');
      return this.store.get(id);
    };
    const byAccessor = (r: RouteRequest) => {
      const t = this.store.byAccessorId(String(r.body.accessor ?? ''));
      if (!t) throw badRequest('invalid accessor');
      return t;
    };
    this.routes = [
      { pattern: /^create$/, operations: { update: (r) => this.create(r, false) } },
      { pattern: /^create-orphan$/, operations: { update: (r) => this.create(r, true) } },
      {
        pattern: /^lookup-self$/,
        operations: { read: (r) => ({ data: describeToken(self(r), this.now()) }) },
      },
      {
        pattern: /^lookup$/,
        operations: {
          update: (r) => {
            const t = byToken(r);
            if (!t) throw new VaultError(403, ['bad token']);
            return { data: describeToken(t, this.now()) };
          },
        },
      },
      {
        pattern: /^lookup-accessor$/,
        operations: { update: (r) => ({ data: describeToken(byAccessor(r), this.now(), true) }) },
      },
      {
        pattern: /^accessors\/?$/,
        sudo: true,
        operations: {
          list: () => {
            const keys = this.store.accessors();
            if (!keys.length) throw notFound();
            return { data: { keys } };
          },
        },
      },
      { pattern: /^renew-self$/, operations: { update: (r) => this.renew(self(r), r.body) } },
      {
        pattern: /^renew$/,
        operations: {
          update: (r) => {
            const t = byToken(r);
            if (!t) throw badRequest('invalid token');
            return this.renew(t, r.body);
          },
        },
      },
      {
        pattern: /^revoke-self$/,
        operations: { update: (r) => (this.store.revoke(r.caller!.id), null) },
      },
      {
        pattern: /^revoke$/,
        operations: {
          update: (r) => {
            const t = byToken(r);
            if (t) this.store.revoke(t.id);
            return null;
          },
        },
      },
      {
        pattern: /^revoke-accessor$/,
        operations: { update: (r) => (this.store.revoke(byAccessor(r).id), null) },
      },
      {
        pattern: /^revoke-orphan$/,
        operations: {
          update: (r) => {
            if (!r.caller!.can(r.path, 'sudo'))
              throw badRequest('root or sudo privileges required to revoke and orphan');
            const t = byToken(r);
            if (t) this.store.revokeOrphan(t.id);
            return null;
          },
        },
      },
    ];
  }

  /** handleCreateCommon without token roles: the subset rule unless root or sudo. */
  private create(r: RouteRequest, orphanPath: boolean): Reply {
    const parent = this.store.get(r.caller!.id)!;
    const { body } = r;
    const isRoot = parent.policies.includes('root');
    const isSudo = isRoot || r.caller!.can(r.path, 'sudo');
    if (body.id !== undefined && !isRoot) throw badRequest('root required to specify token id');
    const requested = list(body.policies);
    const noDefault = bool(body.no_default_policy);
    let policies: string[];
    if (!requested.length) policies = sanitizePolicies(parent.policies, false);
    else if (!isSudo) {
      const held = sanitizePolicies(parent.policies, false);
      if (!sanitizePolicies(requested, false).every((p) => held.includes(p)))
        throw badRequest('child policies must be subset of parent');
      policies = sanitizePolicies(requested, !noDefault && parent.policies.includes('default'));
    } else policies = sanitizePolicies(requested, !noDefault);
    if (noDefault) policies = policies.filter((p) => p !== 'default');
    if (!policies.length) throw badRequest('token must have at least one policy');
    if (policies.includes('root') && !isRoot)
      throw badRequest('root tokens may not be created without parent token being root');
    if (bool(body.no_parent) && !orphanPath && !isSudo)
      throw badRequest('root or sudo privileges required to create orphan token');
    const orphan = orphanPath || bool(body.no_parent);
    const explicitMax = duration(body.explicit_max_ttl, 0);
    let ttl = duration(body.ttl ?? body.lease, 0);
    if (!ttl && !policies.includes('root')) ttl = SYSTEM_MAX_TTL;
    if (explicitMax && (ttl === 0 || ttl > explicitMax)) ttl = explicitMax;
    const numUses = Number(body.num_uses ?? 0);
    if (!Number.isInteger(numUses) || numUses < 0)
      throw badRequest('number of uses cannot be negative');
    const display = String(body.display_name ?? '')
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-');
    const t = this.store.create(
      {
        policies,
        ttl,
        maxTtl: explicitMax,
        path: orphanPath ? 'auth/token/create-orphan' : 'auth/token/create',
        displayName: display ? `token-${display}` : 'token',
        meta: this.meta(body.meta),
        // a child keeps its parent's entity (token_store.go: te.EntityID = parent.EntityID)
        entityId: parent.entityId,
        parent: orphan ? undefined : parent.id,
        renewable: body.renewable === undefined ? true : bool(body.renewable),
        numUses,
      },
      body.id === undefined ? undefined : String(body.id),
    );
    return { auth: authBlock(t) };
  }

  private meta(v: unknown): Record<string, string> | null {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return null;
    return Object.fromEntries(Object.entries(v).map(([k, val]) => [k, String(val)]));
  }

  /** Renewal capped by the max TTL, with Vault's warning (sdk/framework/lease.go). */
  private renew(t: Token, body: Record<string, unknown>): Reply {
    if (!t.expiresAt || !t.renewable) throw badRequest('lease is not renewable');
    const increment = duration(body.increment, t.ttl);
    const maxAt = t.issuedAt + (t.maxTtl || SYSTEM_MAX_TTL) * 1000;
    const proposed = this.now() + increment * 1000;
    const warnings: string[] = [];
    t.expiresAt = Math.min(proposed, maxAt);
    t.lastRenewal = this.now();
    if (proposed > maxAt)
      warnings.push(
        `TTL of "${increment}s" exceeded the effective max_ttl of "${Math.round((maxAt - this.now()) / 1000)}s"; TTL value is capped accordingly`,
      );
    const ttl = Math.round((t.expiresAt - this.now()) / 1000);
    return { auth: authBlock(t, ttl), warnings };
  }
}
