import { randomBytes } from 'node:crypto';
import { badRequest, notFound, type Backend, type Reply, type Route } from '../backend';
import { parsePolicy, PolicyParseError, type Acl } from '../policy';
import type { Token, TokenStore } from '../token-store';

export interface MountEntry {
  type: string;
  options: Record<string, string>;
}
export interface AuthEntry {
  type: string;
  accessor: string;
}

/** auth mounts carry accessors like Vault's `auth_approle_1a2b3c4d` (mount.go) */
export const mountAccessor = (type: string) => `auth_${type}_${randomBytes(4).toString('hex')}`;

export interface SysDeps {
  mounts: Map<string, MountEntry>;
  auths: Map<string, AuthEntry>;
  policies: Map<string, string>;
  tokens: TokenStore;
  acl: (token: Token) => Acl;
  now: () => number;
  /** a secrets mount being disabled: its engine revokes its leases */
  unmount?: (path: string) => Promise<void>;
}

const invalidWrapping = () => badRequest('wrapping token is not valid or does not exist');

/** The system backend's paths vault-dev serves (vault/logical_system.go). */
export class SysBackend implements Backend {
  readonly mount = 'sys/';
  readonly type = 'system';
  readonly routes: Route[];

  constructor(private readonly deps: SysDeps) {
    this.routes = [
      { pattern: /^health$/, unauthenticated: true, operations: { read: () => this.health() } },
      { pattern: /^mounts\/?$/, operations: { read: () => this.listMounts() } },
      {
        pattern: /^mounts\/(.+?)\/?$/,
        operations: {
          update: (r) => this.enableMount(r.params[0], r.body),
          delete: async (r) => {
            const key = `${r.params[0]}/`;
            if (this.deps.mounts.has(key)) await this.deps.unmount?.(key);
            this.deps.mounts.delete(key);
            return null;
          },
        },
      },
      { pattern: /^auth\/?$/, operations: { read: () => this.listAuths() } },
      {
        pattern: /^auth\/(.+?)\/?$/,
        sudo: true,
        operations: {
          update: (r) => this.enableAuth(r.params[0], r.body),
          delete: (r) => (void this.deps.auths.delete(`${r.params[0]}/`), null),
        },
      },
      {
        pattern: /^policies\/acl\/?$/,
        operations: {
          list: () => ({ data: { keys: [...this.deps.policies.keys(), 'root'].sort() } }),
        },
      },
      {
        pattern: /^policies\/acl\/([^/]+)$/,
        operations: {
          read: (r) => this.readPolicy(r.params[0]),
          update: (r) => this.writePolicy(r.params[0], r.body.policy),
          delete: (r) => this.deletePolicy(r.params[0]),
        },
      },
      {
        pattern: /^capabilities-self$/,
        operations: {
          update: (r) => this.capabilities(this.deps.tokens.get(r.caller!.id), r.body),
        },
      },
      {
        pattern: /^capabilities$/,
        operations: {
          update: (r) =>
            this.capabilities(this.deps.tokens.get(String(r.body.token ?? '')), r.body),
        },
      },
      {
        pattern: /^wrapping\/unwrap$/,
        unauthenticated: true,
        operations: {
          update: (r) => {
            const header = r.req.headers['x-vault-token'];
            const t = this.wrappingToken(r.body.token ?? header);
            this.deps.tokens.revoke(t.id); // single use
            return { raw: t.wrapped!.body };
          },
        },
      },
      {
        pattern: /^wrapping\/lookup$/,
        unauthenticated: true,
        operations: {
          update: (r) => {
            const t = this.wrappingToken(r.body.token);
            return {
              data: {
                creation_path: t.wrapped!.creationPath,
                creation_time: new Date(t.issuedAt).toISOString(),
                creation_ttl: t.wrapped!.ttl,
              },
            };
          },
        },
      },
    ];
  }

  /** plain JSON, not the envelope */
  private health(): Reply {
    return {
      raw: {
        initialized: true,
        sealed: false,
        standby: false,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(this.deps.now() / 1000),
        version: '1.17.0+vault-dev',
        cluster_name: 'vault-dev',
        cluster_id: 'vault-dev',
      },
    };
  }

  private listMounts(): Reply {
    return {
      data: Object.fromEntries(
        [...this.deps.mounts].map(([p, v]) => [
          p,
          { type: v.type, options: v.options, description: '' },
        ]),
      ),
    };
  }

  private enableMount(path: string, body: Record<string, unknown>): Reply {
    const key = `${path}/`;
    if (this.deps.mounts.has(key)) throw badRequest(`path is already in use at ${key}`);
    const type = String(body.type ?? '');
    const options =
      body.options && typeof body.options === 'object'
        ? (body.options as Record<string, unknown>)
        : {};
    if (type === 'database') {
      // one database engine, served at its default path
      if (key !== 'database/')
        throw badRequest('vault-dev serves the database secrets engine only at database/');
      this.deps.mounts.set(key, { type, options: {} });
      return null;
    }
    if (!['kv', 'kv-v2'].includes(type))
      throw badRequest(`plugin not found in the catalog: ${type}`);
    this.deps.mounts.set(key, {
      type: 'kv',
      options: { version: type === 'kv-v2' ? '2' : String(options.version ?? '1') },
    });
    return null;
  }

  private listAuths(): Reply {
    return {
      data: Object.fromEntries(
        [...this.deps.auths].map(([p, v]) => [
          p,
          { type: v.type, accessor: v.accessor, description: '' },
        ]),
      ),
    };
  }

  private enableAuth(path: string, body: Record<string, unknown>): Reply {
    const key = `${path}/`;
    if (this.deps.auths.has(key)) throw badRequest(`path is already in use at ${key}`);
    const type = String(body.type ?? '');
    if (!['approle', 'kubernetes'].includes(type))
      throw badRequest(`plugin not found in the catalog: ${type}`);
    this.deps.auths.set(key, { type, accessor: mountAccessor(type) });
    return null;
  }

  private readPolicy(rawName: string): Reply {
    const name = rawName.toLowerCase();
    const policy = this.deps.policies.get(name);
    if (!policy) throw notFound();
    return { data: { name, policy } };
  }

  private writePolicy(rawName: string, text: unknown): Reply {
    const name = rawName.toLowerCase();
    if (name === 'root') throw badRequest('cannot update root policy');
    const policy = String(text ?? '');
    try {
      parsePolicy(policy);
    } catch (err) {
      throw badRequest(
        `failed to parse policy: ${err instanceof PolicyParseError ? err.message : 'invalid'}`,
      );
    }
    this.deps.policies.set(name, policy);
    return null;
  }

  private deletePolicy(rawName: string): Reply {
    const name = rawName.toLowerCase();
    if (name === 'default') throw badRequest('cannot delete default policy');
    this.deps.policies.delete(name);
    return null;
  }

  private capabilities(target: Token | undefined, body: Record<string, unknown>): Reply {
    if (!target) throw badRequest('invalid token');
    const paths = (Array.isArray(body.paths) ? body.paths : [body.path])
      .filter(Boolean)
      .map(String);
    if (!paths.length) throw badRequest('paths must be supplied');
    const acl = this.deps.acl(target);
    const data: Record<string, unknown> = {};
    for (const p of paths)
      data[p] = target.policies.includes('root') ? ['root'] : acl.capabilities(p);
    if (paths.length === 1) data.capabilities = data[paths[0]];
    return { data };
  }

  private wrappingToken(id: unknown): Token {
    const t = typeof id === 'string' ? this.deps.tokens.get(id) : undefined;
    if (!t?.wrapped) throw invalidWrapping();
    return t;
  }
}
