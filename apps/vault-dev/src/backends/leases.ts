import { badRequest, notFound, type Backend, type Reply, type Route } from '../backend';
import type { TokenStore } from '../token-store';

/**
 * `sys/leases/*` (vault/logical_system.go) over the leases vault-dev has: the auth leases of
 * its tokens, `<creation path>/h<hash>`. `revoke-prefix` is how an operator revokes every
 * token one auth method issued, e.g. `auth/approle/login` after a secret-id leak.
 */
export class LeasesBackend implements Backend {
  readonly mount = 'sys/leases/';
  readonly type = 'system';
  readonly routes: Route[];

  constructor(
    private readonly store: TokenStore,
    private readonly now: () => number,
  ) {
    this.routes = [
      { pattern: /^lookup$/, operations: { update: (r) => this.lookup(r.body.lease_id) } },
      {
        pattern: /^lookup\/(.*)$/,
        sudo: true,
        operations: { list: (r) => this.list(r.params[0]) },
      },
      {
        pattern: /^revoke$/,
        operations: {
          update: (r) => {
            const id = String(r.body.lease_id ?? r.body.url_lease_id ?? '');
            if (!id) throw badRequest('lease_id must be specified');
            const lease = this.store.withLeases().find((l) => l.leaseId === id);
            if (lease) this.store.revoke(lease.token.id);
            return this.revoked(r.body.sync);
          },
        },
      },
      {
        pattern: /^revoke-prefix\/(.+)$/,
        sudo: true,
        operations: {
          update: (r) => {
            const prefix = r.params[0].endsWith('/') ? r.params[0] : `${r.params[0]}/`;
            for (const l of this.store.withLeases())
              if (l.leaseId.startsWith(prefix)) this.store.revoke(l.token.id);
            return this.revoked(r.body.sync);
          },
        },
      },
    ];
  }

  /** `sync` defaults to true (204); `sync=false` is accepted and answered 202 */
  private revoked(sync: unknown): Reply {
    return sync === false || sync === 'false' ? { raw: null, status: 202 } : null;
  }

  private lookup(leaseId: unknown): Reply {
    const id = String(leaseId ?? '');
    if (!id) throw badRequest('lease_id must be specified');
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
    for (const { leaseId } of this.store.withLeases()) {
      if (!leaseId.startsWith(prefix)) continue;
      const rest = leaseId.slice(prefix.length);
      const slash = rest.indexOf('/');
      keys.add(slash < 0 ? rest : rest.slice(0, slash + 1));
    }
    if (!keys.size) throw notFound();
    return { data: { keys: [...keys].sort() } };
  }
}
