import {
  badRequest,
  duration,
  notFound,
  type Backend,
  type Reply,
  type Route,
  type RouteRequest,
} from '../backend';
import type { SecretLease, SecretLeases } from '../secret-leases';
import type { TokenStore } from '../token-store';

const iso = (ms: number) => new Date(ms).toISOString();
/** the body's lease_id wins over the one in the URL (`sys/leases/revoke/<lease_id>`) */
const leaseIdOf = (r: RouteRequest) => {
  const id = String(r.body.lease_id || r.params[0] || '');
  if (!id) throw badRequest('lease_id must be specified');
  return id;
};

/**
 * `sys/leases/*` (vault/logical_system.go) over the leases vault-dev has: the auth leases of
 * its tokens, `<creation path>/h<hash>`, and secret leases (`database/creds/<role>/<id>`).
 * `revoke-prefix` is how an operator revokes every token one auth method issued, e.g.
 * `auth/approle/login` after a secret-id leak, or every credential of one database role.
 */
export class LeasesBackend implements Backend {
  readonly mount = 'sys/leases/';
  readonly type = 'system';
  readonly routes: Route[];

  constructor(
    private readonly store: TokenStore,
    private readonly secrets: SecretLeases,
    private readonly now: () => number,
  ) {
    this.routes = [
      {
        pattern: /^renew(?:\/(.+))?$/,
        operations: { update: (r) => this.renew(leaseIdOf(r), r.body.increment) },
      },
      { pattern: /^lookup$/, operations: { update: (r) => this.lookup(r.body.lease_id) } },
      {
        pattern: /^lookup\/(.*)$/,
        sudo: true,
        operations: { list: (r) => this.list(r.params[0]) },
      },
      {
        pattern: /^revoke(?:\/(.+))?$/,
        operations: { update: (r) => this.revoke([leaseIdOf(r)], r.body.sync) },
      },
      {
        pattern: /^revoke-prefix\/(.+)$/,
        sudo: true,
        operations: {
          update: (r) => {
            const prefix = r.params[0].endsWith('/') ? r.params[0] : `${r.params[0]}/`;
            const ids = [...this.secrets.all().map((l) => l.id), ...this.tokenLeaseIds()];
            return this.revoke(
              ids.filter((id) => id.startsWith(prefix)),
              r.body.sync,
            );
          },
        },
      },
    ];
  }

  private tokenLeaseIds(): string[] {
    return this.store.withLeases().map((l) => l.leaseId);
  }

  /** handleRenew: secret leases only; a token's lease is renewed through auth/token/renew */
  private async renew(id: string, increment: unknown): Promise<Reply> {
    if (!this.secrets.get(id) && this.tokenLeaseIds().includes(id))
      throw badRequest('tokens cannot be renewed through this endpoint');
    const { ttl, warnings } = await this.secrets.renew(id, duration(increment, 0));
    return { lease: { id, duration: ttl, renewable: true }, warnings };
  }

  /**
   * handleRevoke: `sync` defaults to true (revoked inline, 204; a failure is a 400);
   * `sync=false` expires the lease now and revokes it in the background (202).
   * An unknown lease id is not an error.
   */
  private async revoke(ids: string[], sync: unknown): Promise<Reply> {
    const lazy = sync === false || sync === 'false';
    for (const id of ids) {
      const token = this.store.withLeases().find((l) => l.leaseId === id);
      if (token) this.store.revoke(token.token.id);
      if (lazy) this.secrets.expireNow(id);
      else
        await this.secrets.revoke(id).catch((err: unknown) => {
          throw badRequest(err instanceof Error ? err.message : 'revocation failed');
        });
    }
    return lazy ? { raw: null, status: 202 } : null;
  }

  private describeSecret(l: SecretLease): Reply {
    const now = this.now();
    const live = l.expiresAt > now && !l.irrevocable;
    return {
      data: {
        expire_time: iso(l.expiresAt),
        id: l.id,
        issue_time: iso(l.issuedAt),
        last_renewal: l.lastRenewal ? iso(l.lastRenewal) : null,
        renewable: live,
        ttl: Math.max(0, Math.round((l.expiresAt - now) / 1000)),
      },
    };
  }

  private lookup(leaseId: unknown): Reply {
    const id = String(leaseId ?? '');
    if (!id) throw badRequest('lease_id must be specified');
    const secret = this.secrets.get(id);
    if (secret) return this.describeSecret(secret);
    const lease = this.store.withLeases().find((l) => l.leaseId === id);
    if (!lease) throw badRequest('invalid lease');
    const t = lease.token;
    return {
      data: {
        expire_time: new Date(t.expiresAt).toISOString(),
        id,
        issue_time: new Date(t.issuedAt).toISOString(),
        last_renewal: t.lastRenewal ? new Date(t.lastRenewal).toISOString() : null,
        renewable: t.renewable,
        ttl: Math.max(0, Math.round((t.expiresAt - this.now()) / 1000)),
      },
    };
  }

  private list(prefix: string): Reply {
    const keys = new Set<string>();
    for (const leaseId of [...this.tokenLeaseIds(), ...this.secrets.all().map((l) => l.id)]) {
      if (!leaseId.startsWith(prefix)) continue;
      const rest = leaseId.slice(prefix.length);
      const slash = rest.indexOf('/');
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    if (!keys.size) throw notFound();
    return { data: { keys: [...keys].sort() } };
  }
}
