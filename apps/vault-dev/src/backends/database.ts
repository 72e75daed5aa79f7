import {
  badRequest,
  duration,
  internalError,
  notFound,
  type Backend,
  type Caller,
  type Reply,
  type Route,
} from '../backend';
import {
  calculateTtl,
  type SecretEngine,
  type SecretLease,
  type SecretLeases,
} from '../secret-leases';
import { configResponse, parseConfigWrite, passwordInUrl, type DbConfig } from './database-config';
import { PostgresPlugin } from './database-postgres';
import {
  base62,
  generatePassword,
  generateUsername,
  globMatch,
  statementList,
} from './database-statements';

export const PLUGIN_NAME = 'postgresql-database-plugin';

interface DbRole {
  dbName: string;
  creation: string[];
  revocation: string[];
  rollback: string[];
  renew: string[];
  defaultTtl: number;
  maxTtl: number;
}

export interface DatabaseDeps {
  leases: SecretLeases;
  now: () => number;
  onIssued: (values: string[]) => void;
  /** whether `sys/mounts/database` has been enabled */
  mounted: () => boolean;
}

/** Never echo a credential: replace each known secret in a message. */
const scrub = (msg: string, secrets: string[]) =>
  secrets.filter(Boolean).reduce((m, s) => m.split(s).join('<redacted>'), msg);
const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The database secrets engine (builtin/logical/database) with the PostgreSQL plugin, mounted
 * at `database/`: connection configs, dynamic roles, and creds under a lease that a real
 * PostgreSQL role lives and dies with. Static roles and root rotation are not emulated.
 */
export class DatabaseBackend implements Backend, SecretEngine {
  readonly mount = 'database/';
  readonly type = 'database';
  readonly routes: Route[];
  private readonly configs = new Map<string, DbConfig>();
  private readonly plugins = new Map<string, PostgresPlugin>();
  private readonly roles = new Map<string, DbRole>();

  constructor(private readonly deps: DatabaseDeps) {
    const keys = (m: Map<string, unknown>): Reply => {
      if (!m.size) throw notFound();
      return { data: { keys: [...m.keys()].sort() } };
    };
    this.routes = [
      { pattern: /^config\/?$/, operations: { list: () => keys(this.configs) } },
      {
        pattern: /^config\/([^/]+)$/,
        exists: (r) => this.configs.has(r.params[0]),
        operations: {
          create: (r) => this.writeConfig(r.params[0], r.body, true),
          update: (r) => this.writeConfig(r.params[0], r.body, false),
          read: (r) => this.readConfig(r.params[0]),
          delete: (r) => this.deleteConfig(r.params[0]),
        },
      },
      { pattern: /^roles\/?$/, operations: { list: () => keys(this.roles) } },
      {
        pattern: /^roles\/([^/]+)$/,
        exists: (r) => this.roles.has(r.params[0]),
        operations: {
          create: (r) => this.writeRole(r.params[0], r.body, true),
          update: (r) => this.writeRole(r.params[0], r.body, false),
          read: (r) => this.readRole(r.params[0]),
          delete: (r) => (void this.roles.delete(r.params[0]), null),
        },
      },
      {
        pattern: /^creds\/([^/]+)$/,
        operations: { read: (r) => this.creds(r.params[0], r.caller!) },
      },
    ];
  }

  enabled(): boolean {
    return this.deps.mounted();
  }

  /** Unmounting revokes every lease of the mount and forgets its storage, as Vault does. */
  async unmount(): Promise<void> {
    const leases = this.deps.leases.all().filter((l) => l.id.startsWith(this.mount));
    await Promise.allSettled(leases.map((l) => this.deps.leases.revoke(l.id)));
    await this.close();
    this.configs.clear();
    this.roles.clear();
  }

  /** Ends every pool (vault-dev's stop). */
  async close(): Promise<void> {
    const plugins = [...this.plugins.values()];
    this.plugins.clear();
    await Promise.all(plugins.map((p) => p.close()));
  }

  private async writeConfig(name: string, body: Record<string, unknown>, create: boolean) {
    const config = parseConfigWrite(body, create ? undefined : this.configs.get(name));
    if (config.pluginName !== PLUGIN_NAME)
      throw badRequest(
        `error creating database object: vault-dev serves only ${PLUGIN_NAME}, not "${config.pluginName}"`,
      );
    const d = config.details;
    const plugin = new PostgresPlugin({
      connectionUrl: String(d.connection_url ?? ''),
      username: String(d.username ?? ''),
      password: String(d.password ?? ''),
      maxOpenConnections: Number(d.max_open_connections ?? 4) || 4,
      disableEscaping: d.disable_escaping === true || d.disable_escaping === 'true',
    });
    try {
      if (!d.connection_url) throw new Error('connection_url cannot be empty');
      if (config.verifyConnection) await plugin.verify();
    } catch (err) {
      await plugin.close();
      const msg = `error creating database object: error verifying connection: ${errorText(err)}`;
      throw badRequest(scrub(msg, plugin.secrets));
    }
    this.deps.onIssued(plugin.secrets);
    await this.plugins.get(name)?.close();
    this.plugins.set(name, plugin);
    this.configs.set(name, config);
    return passwordInUrl(String(d.connection_url))
      ? {
          warnings: [
            'Password found in connection_url, use a templated url to enable root rotation and prevent read access to password information.',
          ],
        }
      : null;
  }

  private readConfig(name: string): Reply {
    const config = this.configs.get(name);
    if (!config) throw notFound();
    return { data: configResponse(config) };
  }

  private async deleteConfig(name: string): Promise<Reply> {
    await this.plugins.get(name)?.close();
    this.plugins.delete(name);
    this.configs.delete(name);
    return null;
  }

  private writeRole(name: string, body: Record<string, unknown>, create: boolean): Reply {
    const old = this.roles.get(name);
    const pick = (field: string, current: string[] | undefined) =>
      body[field] !== undefined ? statementList(body[field]) : (current ?? []);
    const role: DbRole = {
      dbName: body.db_name !== undefined ? String(body.db_name) : (old?.dbName ?? ''),
      creation: pick('creation_statements', old?.creation),
      revocation: pick('revocation_statements', old?.revocation),
      rollback: pick('rollback_statements', old?.rollback),
      renew: pick('renew_statements', old?.renew),
      defaultTtl: duration(body.default_ttl, create ? 0 : (old?.defaultTtl ?? 0)),
      maxTtl: duration(body.max_ttl, create ? 0 : (old?.maxTtl ?? 0)),
    };
    if (!role.dbName) throw badRequest('database name is required');
    if (role.maxTtl !== 0 && role.maxTtl < role.defaultTtl)
      throw badRequest('ttl cannot be greater than max_ttl');
    this.roles.set(name, role);
    return null;
  }

  private readRole(name: string): Reply {
    const role = this.roles.get(name);
    if (!role) throw notFound();
    return {
      data: {
        creation_statements: role.creation,
        credential_type: 'password',
        db_name: role.dbName,
        default_ttl: role.defaultTtl,
        max_ttl: role.maxTtl,
        renew_statements: role.renew,
        revocation_statements: role.revocation,
        rollback_statements: role.rollback,
      },
    };
  }

  /** path_creds_create.go: role, allowed_roles, TTL, user in the database, then the lease */
  private async creds(name: string, caller: Caller): Promise<Reply> {
    const role = this.roles.get(name);
    if (!role) throw badRequest(`unknown role: ${name}`);
    const config = this.configs.get(role.dbName);
    const plugin = this.plugins.get(role.dbName);
    if (!config || !plugin)
      throw internalError(`failed to find entry for connection with name: "${role.dbName}"`);
    if (!config.allowedRoles.includes('*') && !globMatch(config.allowedRoles, name))
      throw internalError(`"${name}" is not an allowed role`);
    const now = this.deps.now();
    const { ttl } = calculateTtl({ ...role, increment: 0, issuedAt: now, now });
    const username = generateUsername(caller.displayName, name, now);
    const password = generatePassword();
    this.deps.onIssued([password]);
    try {
      await plugin.newUser({
        username,
        password,
        expiresAt: now + (ttl + 5) * 1000,
        statements: role.creation,
      });
    } catch (err) {
      throw internalError(scrub(errorText(err), [...plugin.secrets, password]));
    }
    const lease = this.deps.leases.register({
      id: `${this.mount}creds/${name}/${base62(24)}`,
      tokenId: caller.id,
      issuedAt: now,
      expiresAt: now + ttl * 1000,
      defaultTtl: role.defaultTtl,
      maxTtl: role.maxTtl,
      internal: {
        username,
        role: name,
        db_name: role.dbName,
        revocation_statements: role.revocation,
      },
      engine: this,
    });
    return {
      data: { username, password },
      lease: { id: lease.id, duration: ttl, renewable: true },
    };
  }

  /** secret_creds.go secretCredsRenew: VALID UNTIL moves to the new expiry + 5 s */
  async renew(lease: SecretLease, ttl: number): Promise<void> {
    const roleName = String(lease.internal.role);
    const role = this.roles.get(roleName);
    if (!role) throw new Error(`error during renew: could not find role with name "${roleName}"`);
    const plugin = this.pluginFor(role.dbName);
    if (ttl <= 0) return;
    const expiresAt = this.deps.now() + (ttl + 5) * 1000;
    await plugin
      .renewUser(String(lease.internal.username), expiresAt, role.renew)
      .catch((err: unknown) => {
        throw new Error(scrub(errorText(err), plugin.secrets));
      });
  }

  /** secretCredsRevoke: the role's statements, or those saved in the lease if it is gone */
  async revoke(lease: SecretLease): Promise<void> {
    const role = this.roles.get(String(lease.internal.role));
    const plugin = this.pluginFor(role?.dbName ?? String(lease.internal.db_name));
    const statements = role ? role.revocation : lease.internal.revocation_statements;
    await plugin.deleteUser(String(lease.internal.username), statements).catch((err: unknown) => {
      throw new Error(
        `failed to revoke entry: resp: (*logical.Response)(nil) err: ${scrub(errorText(err), plugin.secrets)}`,
      );
    });
  }

  private pluginFor(dbName: string): PostgresPlugin {
    const plugin = this.plugins.get(dbName);
    if (!plugin) throw new Error(`failed to find entry for connection with name: "${dbName}"`);
    return plugin;
  }
}
