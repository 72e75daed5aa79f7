import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import {
  badRequest,
  denied,
  duration,
  invalidToken,
  matchRoute,
  notFound,
  VaultError,
  type Backend,
  type Caller,
  type Op,
  type Reply,
  type Route,
} from './backend';
import { IdentityBackend } from './backends/identity';
import { IdentityStore, type AuthMount } from './backends/identity-store';
import { Acl, DEFAULT_POLICY, parsePolicy, PolicyParseError, type PathRule } from './policy';

/**
 * A Vault-API-compatible dev server for tests and the local demo: the endpoints this project
 * uses, Vault's envelope, status codes and error bodies, and Vault's ACL rules. NOT Vault.
 */
interface Token {
  id: string;
  accessor: string;
  policies: string[];
  ttl: number;
  maxTtl: number;
  issuedAt: number;
  expiresAt: number; // ms; 0 = never (root)
  path: string;
  meta: Record<string, string> | null;
  /** the identity entity of the login that created it (root and its children have none) */
  entityId?: string;
  wrapped?: {
    body: Record<string, unknown>;
    creationPath: string;
    ttl: number;
    wrappedAccessor: string;
  };
}

interface KvEntry {
  versions: {
    data: Record<string, unknown>;
    created_time: string;
    deletion_time: string;
    destroyed: boolean;
  }[];
  created_time: string;
  updated_time: string;
}

interface Role {
  role_id: string;
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  secret_id_num_uses: number;
  secret_id_ttl: number;
  bind_secret_id: boolean;
}

/** Injected at the top level as well as under `data` (http/handler.go injectDataIntoTopRoutes). */
const INJECTED = [/^sys\/mounts\/?$/, /^sys\/auth\/?$/, /^sys\/capabilities(-self|-accessor)?$/];
const SUDO = [/^sys\/auth\/.+/];
const SYSTEM_MAX_TTL = 32 * 24 * 3600;

export interface VaultDevOptions {
  rootToken?: string;
  now?: () => number;
  /** Told every secret it issues or stores (tokens, secret-ids, KV values): the leak scan. */
  onIssued?: (values: string[]) => void;
  /** Vault's `api_addr` (the identity tokens' default issuer); default: the listen address */
  apiAddr?: string;
}

const mountAccessor = (type: string) => `auth_${type}_${randomBytes(4).toString('hex')}`;

export class VaultDev {
  readonly rootToken: string;
  private readonly tokens = new Map<string, Token>();
  private readonly policies = new Map<string, string>([['default', DEFAULT_POLICY]]);
  private readonly mounts = new Map<string, { type: string; options: Record<string, string> }>([
    ['secret/', { type: 'kv', options: { version: '2' } }],
    ['cubbyhole/', { type: 'cubbyhole', options: {} }],
    ['sys/', { type: 'system', options: {} }],
    ['identity/', { type: 'identity', options: {} }],
  ]);
  private readonly auths = new Map<string, { type: string; accessor: string }>([
    ['token/', { type: 'token', accessor: mountAccessor('token') }],
  ]);
  private readonly identityStore: IdentityStore;
  private readonly backends: Backend[];
  private apiAddr: string;
  private readonly kv = new Map<string, KvEntry>();
  private readonly roles = new Map<string, Role>();
  private readonly secretIds = new Map<
    string,
    { role: string; accessor: string; usesLeft: number; expiresAt: number }
  >();
  private readonly k8sRoles = new Map<
    string,
    {
      names: string[];
      namespaces: string[];
      audience: string;
      policies: string[];
      ttl: number;
      maxTtl: number;
      aliasNameSource: string;
    }
  >();
  private k8sConfig?: { kubernetes_host: string; kubernetes_ca_cert: string };
  private readonly now: () => number;

  private readonly onIssued: (values: string[]) => void;

  constructor(options: VaultDevOptions = {}) {
    this.now = options.now ?? Date.now;
    this.onIssued = options.onIssued ?? (() => undefined);
    this.apiAddr = options.apiAddr ?? '';
    this.identityStore = new IdentityStore(this.now);
    this.backends = [
      new IdentityBackend({
        store: this.identityStore,
        now: this.now,
        apiAddr: () => this.apiAddr,
        onIssued: (v) => this.onIssued(v),
      }),
    ];
    this.rootToken = options.rootToken ?? `hvs.${randomBytes(18).toString('base64url')}`;
    this.tokens.set(this.rootToken, {
      id: this.rootToken,
      accessor: randomUUID(),
      policies: ['root'],
      ttl: 0,
      maxTtl: 0,
      issuedAt: this.now(),
      expiresAt: 0,
      path: 'auth/token/root',
      meta: null,
    });
  }

  /** Serves HTTP, or HTTPS with `tls` (PEM certificate chain and key), like a Vault listener. */
  listen(port: number, host = '127.0.0.1', tls?: { cert: string; key: string }): Promise<Server> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler)
      : createServer(handler);
    return new Promise((resolve) =>
      server.listen(port, host, () => {
        const bound = (server.address() as { port: number }).port;
        const scheme = tls ? 'https' : 'http';
        this.apiAddr ||= `${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
        resolve(server);
      }),
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'application/json');
    try {
      const url = new URL(req.url ?? '/', 'http://vault');
      if (!url.pathname.startsWith('/v1/')) throw notFound();
      let path = decodeURIComponent(url.pathname.slice(4));
      const body = await readJson(req);
      let op: Op;
      const method = req.method ?? 'GET';
      const isList =
        method === 'LIST' || (method === 'GET' && url.searchParams.get('list') === 'true');
      if (isList && !path.endsWith('/')) path += '/';
      const backend = this.backends.find((b) => path.startsWith(b.mount));
      const mounted = backend && matchRoute(backend, path);
      if (isList) op = 'list';
      else if (method === 'GET') op = 'read';
      else if (method === 'POST' || method === 'PUT')
        op = (mounted ? mounted.route.exists?.(mounted) !== false : this.exists(path))
          ? 'update'
          : 'create';
      else if (method === 'DELETE') op = 'delete';
      else throw new VaultError(405, ['unsupported operation']);
      for (const [k, v] of url.searchParams) if (k !== 'list') body[k] ??= v;

      const token = this.authenticate(req, path, op, mounted?.route);
      if (backend) {
        if (!mounted) throw new VaultError(404, ['unsupported path']);
        const handler = mounted.route.operations[op];
        if (!handler) throw new VaultError(405, ['unsupported operation']);
        const reply = await handler({
          path,
          op,
          params: mounted.params,
          body,
          caller: token && this.caller(token),
          req,
        });
        if (reply && 'raw' in reply) {
          for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
          this.respond(res, reply.status ?? 200, reply.raw);
          return;
        }
        this.finish(req, res, path, this.fromReply(reply, backend));
        return;
      }
      const result = await this.route(path, op, body, token, req);
      this.finish(req, res, path, result);
    } catch (err) {
      const e = err instanceof VaultError ? err : new VaultError(500, ['internal error']);
      // a soft-deleted KV version is a 404 that still carries the envelope, like Vault's
      this.respond(res, e.status, e.body ?? { errors: e.errors });
    }
  }

  private caller(t: Token): Caller {
    return {
      id: t.id,
      accessor: t.accessor,
      policies: t.policies,
      entityId: t.entityId ?? '',
      root: t.policies.includes('root'),
    };
  }

  private fromReply(reply: Reply, backend: Backend): Record<string, unknown> | null {
    if (!reply || 'raw' in reply) return null;
    if (!reply.warnings?.length && !reply.auth && reply.data === undefined) return null;
    return {
      ...this.envelope(reply.data ?? null, {
        warnings: reply.warnings?.length ? reply.warnings : null,
        auth: reply.auth ?? null,
      }),
      mount_type: backend.type,
    };
  }

  private finish(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    result: Record<string, unknown> | null,
  ): void {
    const wrapTtl = req.headers['x-vault-wrap-ttl'];
    if (result && wrapTtl) {
      this.respond(res, 200, this.wrap(result, path, duration(wrapTtl, 300)));
      return;
    }
    if (!result) {
      res.statusCode = 204;
      res.end();
      return;
    }
    this.respond(res, 200, result);
  }

  private respond(res: ServerResponse, status: number, body: unknown) {
    res.statusCode = status;
    res.end(JSON.stringify(body));
  }

  private envelope(
    data: Record<string, unknown> | null,
    extra: Record<string, unknown> = {},
    path = '',
  ): Record<string, unknown> {
    const mount = path.startsWith('secret/')
      ? 'kv'
      : path.startsWith('auth/approle')
        ? 'approle'
        : path.startsWith('auth/token')
          ? 'token'
          : path.startsWith('sys/')
            ? 'system'
            : '';
    const env: Record<string, unknown> = {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data,
      wrap_info: null,
      warnings: null,
      auth: null,
      mount_type: mount,
      ...extra,
    };
    if (data && INJECTED.some((r) => r.test(path))) Object.assign(env, data);
    return env;
  }

  private unauthenticated(path: string): boolean {
    return (
      path === 'sys/health' ||
      /^auth\/(approle|kubernetes)\/login$/.test(path) ||
      path === 'sys/wrapping/unwrap' ||
      path === 'sys/wrapping/lookup'
    );
  }

  private authenticate(
    req: IncomingMessage,
    path: string,
    op: Op,
    route?: Route,
  ): Token | undefined {
    const header =
      req.headers['x-vault-token'] ??
      (req.headers.authorization?.startsWith('Bearer ')
        ? req.headers.authorization.slice(7)
        : undefined);
    const id = Array.isArray(header) ? header[0] : header;
    if (route?.unauthenticated || this.unauthenticated(path))
      return id ? this.tokens.get(id) : undefined;
    const token = id ? this.tokens.get(id) : undefined;
    if (!token || (token.expiresAt && token.expiresAt <= this.now()) || token.wrapped) {
      if (token && token.expiresAt && token.expiresAt <= this.now()) this.tokens.delete(token.id);
      throw invalidToken();
    }
    if (token.policies.includes('root')) return token;
    const aclOp =
      op === 'create' && !route?.exists && !this.hasExistenceCheck(path) ? 'update' : op;
    if (
      !this.acl(token).allows(
        path,
        aclOp,
        SUDO.some((r) => r.test(path)),
      )
    )
      throw denied();
    return token;
  }

  private acl(token: Token): Acl {
    const rules: PathRule[][] = [];
    for (const name of token.policies) {
      const hcl = this.policies.get(name);
      if (hcl) rules.push(parsePolicy(hcl));
    }
    return new Acl(rules);
  }

  private hasExistenceCheck(path: string): boolean {
    return (
      /^secret\/data\//.test(path) ||
      /^auth\/approle\/role\/[^/]+$/.test(path) ||
      /^auth\/kubernetes\/role\/[^/]+$/.test(path)
    );
  }

  private exists(path: string): boolean {
    let m = /^secret\/data\/(.+)$/.exec(path);
    if (m) return this.kv.has(m[1]);
    m = /^auth\/approle\/role\/([^/]+)$/.exec(path);
    if (m) return this.roles.has(m[1].toLowerCase());
    m = /^auth\/kubernetes\/role\/([^/]+)$/.exec(path);
    if (m) return this.k8sRoles.has(m[1]);
    return true;
  }

  private authMount(path: string): AuthMount {
    const m = this.auths.get(path)!;
    return { path: `auth/${path}`, type: m.type, accessor: m.accessor };
  }

  private issueToken(
    policies: string[],
    ttl: number,
    maxTtl: number,
    path: string,
    meta: Record<string, string> | null,
  ): Token {
    const sanitized = [
      ...new Set(['default', ...policies.map((p) => p.trim().toLowerCase())]),
    ].sort();
    const token: Token = {
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      policies: sanitized,
      ttl,
      maxTtl,
      issuedAt: this.now(),
      expiresAt: this.now() + ttl * 1000,
      path,
      meta,
    };
    this.tokens.set(token.id, token);
    this.onIssued([token.id]);
    return token;
  }

  private authBlock(t: Token) {
    return {
      client_token: t.id,
      accessor: t.accessor,
      policies: t.policies,
      token_policies: t.policies,
      metadata: t.meta,
      lease_duration: t.ttl,
      renewable: true,
      entity_id: t.entityId ?? '',
      token_type: 'service',
      orphan: true,
    };
  }

  private wrap(
    response: Record<string, unknown>,
    path: string,
    ttl: number,
  ): Record<string, unknown> {
    const wrappedAccessor = String(
      (response.data as Record<string, unknown> | null)?.secret_id_accessor ??
        (response.auth as { accessor?: string } | null)?.accessor ??
        '',
    );
    const t: Token = {
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      policies: ['response-wrapping'],
      ttl,
      maxTtl: ttl,
      issuedAt: this.now(),
      expiresAt: this.now() + ttl * 1000,
      path,
      meta: null,
      wrapped: { body: response, creationPath: path, ttl, wrappedAccessor },
    };
    this.tokens.set(t.id, t);
    this.onIssued([t.id]);
    return {
      request_id: '',
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: null,
      warnings: null,
      auth: null,
      mount_type: '',
      wrap_info: {
        token: t.id,
        accessor: t.accessor,
        ttl,
        creation_time: new Date(t.issuedAt).toISOString(),
        creation_path: path,
        wrapped_accessor: wrappedAccessor,
      },
    };
  }

  private wrappingToken(id: unknown): Token {
    const t = typeof id === 'string' ? this.tokens.get(id) : undefined;
    if (!t?.wrapped || t.expiresAt <= this.now())
      throw badRequest('wrapping token is not valid or does not exist');
    return t;
  }

  private async route(
    path: string,
    op: Op,
    body: Record<string, unknown>,
    token: Token | undefined,
    req: IncomingMessage,
  ): Promise<Record<string, unknown> | null> {
    const e = (data: Record<string, unknown> | null, extra?: Record<string, unknown>) =>
      this.envelope(data, extra, path);
    let m: RegExpExecArray | null;

    if (path === 'sys/health')
      return {
        initialized: true,
        sealed: false,
        standby: false,
        performance_standby: false,
        replication_performance_mode: 'disabled',
        replication_dr_mode: 'disabled',
        server_time_utc: Math.floor(this.now() / 1000),
        version: '1.17.0+vault-dev',
        cluster_name: 'vault-dev',
        cluster_id: 'vault-dev',
      };

    // --- mounts and auth methods
    if (path === 'sys/mounts' && op === 'read')
      return e(
        Object.fromEntries(
          [...this.mounts].map(([p, v]) => [
            p,
            { type: v.type, options: v.options, description: '' },
          ]),
        ),
      );
    if ((m = /^sys\/mounts\/(.+?)\/?$/.exec(path))) {
      const key = `${m[1]}/`;
      if (op === 'delete') return (void this.mounts.delete(key), null);
      if (this.mounts.has(key)) throw new VaultError(400, [`path is already in use at ${key}`]);
      const type = String(body.type ?? '');
      const options = (body.options as Record<string, string>) ?? {};
      if (!['kv', 'kv-v2'].includes(type))
        throw badRequest(`plugin not found in the catalog: ${type}`);
      this.mounts.set(key, {
        type: 'kv',
        options: { version: type === 'kv-v2' ? '2' : (options.version ?? '1') },
      });
      return null;
    }
    if (path === 'sys/auth' && op === 'read')
      return e(
        Object.fromEntries(
          [...this.auths].map(([p, v]) => [
            p,
            { type: v.type, accessor: v.accessor, description: '' },
          ]),
        ),
      );
    if ((m = /^sys\/auth\/(.+?)\/?$/.exec(path))) {
      const key = `${m[1]}/`;
      if (op === 'delete') return (void this.auths.delete(key), null);
      if (this.auths.has(key)) throw badRequest(`path is already in use at ${key}`);
      const type = String(body.type ?? '');
      if (!['approle', 'kubernetes'].includes(type))
        throw badRequest(`plugin not found in the catalog: ${type}`);
      this.auths.set(key, { type, accessor: mountAccessor(type) });
      return null;
    }

    // --- policies
    if (path === 'sys/policies/acl/' && op === 'list')
      return e({ keys: [...this.policies.keys(), 'root'].sort() });
    if ((m = /^sys\/policies\/acl\/([^/]+)$/.exec(path))) {
      const name = m[1].toLowerCase();
      if (op === 'read') {
        const policy = this.policies.get(name);
        if (!policy) throw notFound();
        return e({ name, policy });
      }
      if (op === 'delete') {
        if (name === 'default') throw badRequest('cannot delete default policy');
        this.policies.delete(name);
        return null;
      }
      if (name === 'root') throw badRequest('cannot update root policy');
      const policy = String(body.policy ?? '');
      try {
        parsePolicy(policy);
      } catch (err) {
        throw badRequest(
          `failed to parse policy: ${err instanceof PolicyParseError ? err.message : 'invalid'}`,
        );
      }
      this.policies.set(name, policy);
      return null;
    }

    // --- capabilities
    if (path === 'sys/capabilities-self' || path === 'sys/capabilities') {
      const target =
        path === 'sys/capabilities' ? this.tokens.get(String(body.token ?? '')) : token;
      if (!target) throw badRequest('invalid token');
      const paths = (Array.isArray(body.paths) ? body.paths : [body.path])
        .filter(Boolean)
        .map(String);
      const acl = this.acl(target);
      const data: Record<string, unknown> = {};
      for (const p of paths)
        data[p] = target.policies.includes('root') ? ['root'] : acl.capabilities(p);
      if (paths.length === 1) data.capabilities = data[paths[0]];
      return e(data);
    }

    // --- response wrapping
    if (path === 'sys/wrapping/unwrap') {
      const t = this.wrappingToken(body.token ?? req.headers['x-vault-token']);
      this.tokens.delete(t.id); // single use
      return t.wrapped!.body;
    }
    if (path === 'sys/wrapping/lookup') {
      const t = this.wrappingToken(body.token);
      return e({
        creation_path: t.wrapped!.creationPath,
        creation_time: new Date(t.issuedAt).toISOString(),
        creation_ttl: t.wrapped!.ttl,
      });
    }

    // --- token self-management
    if (path === 'auth/token/lookup-self') {
      const t = token!;
      const ttl = t.expiresAt ? Math.max(0, Math.round((t.expiresAt - this.now()) / 1000)) : 0;
      return e({
        accessor: t.accessor,
        creation_time: Math.floor(t.issuedAt / 1000),
        creation_ttl: t.ttl,
        display_name: t.path.replace(/\//g, '-'),
        entity_id: t.entityId ?? '',
        expire_time: t.expiresAt ? new Date(t.expiresAt).toISOString() : null,
        explicit_max_ttl: 0,
        id: t.id,
        issue_time: new Date(t.issuedAt).toISOString(),
        meta: t.meta,
        num_uses: 0,
        orphan: true,
        path: t.path,
        policies: t.policies,
        renewable: t.expiresAt > 0,
        ttl,
        type: 'service',
      });
    }
    if (path === 'auth/token/renew-self') {
      const t = token!;
      if (!t.expiresAt) throw badRequest('lease is not renewable');
      const increment = duration(body.increment, t.ttl);
      // 0 means the system max TTL (32 days by default), as in Vault
      const maxAt = t.issuedAt + (t.maxTtl || SYSTEM_MAX_TTL) * 1000;
      const proposed = this.now() + increment * 1000;
      const warnings: string[] = [];
      t.expiresAt = Math.min(proposed, maxAt);
      if (proposed > maxAt)
        warnings.push(
          `TTL of "${increment}s" exceeded the effective max_ttl of "${Math.round((maxAt - this.now()) / 1000)}s"; TTL value is capped accordingly`,
        );
      const ttl = Math.round((t.expiresAt - this.now()) / 1000);
      return this.envelope(
        null,
        {
          auth: { ...this.authBlock(t), lease_duration: ttl },
          warnings: warnings.length ? warnings : null,
        },
        path,
      );
    }
    if (path === 'auth/token/revoke-self') {
      this.tokens.delete(token!.id);
      return null;
    }

    // --- AppRole
    if (path.startsWith('auth/approle/') && !this.auths.has('approle/'))
      throw new VaultError(404, [`no handler for route "${path}". route entry not found.`]);
    if (path === 'auth/approle/login') {
      const roleId = String(body.role_id ?? '');
      const secretId = String(body.secret_id ?? '');
      const role = [...this.roles.entries()].find(([, r]) => r.role_id === roleId);
      const sid = this.secretIds.get(secretId);
      if (!role || !sid || sid.role !== role[0] || (sid.expiresAt && sid.expiresAt <= this.now()))
        throw badRequest('invalid role or secret ID');
      if (sid.usesLeft > 0) {
        sid.usesLeft -= 1;
        if (sid.usesLeft === 0) this.secretIds.delete(secretId);
      }
      const meta = { role_name: role[0] };
      // the alias is the role_id: every login through one role shares one entity
      const entity = this.identityStore.entityForLogin(this.authMount('approle/'), roleId, meta);
      const t = this.issueToken(
        role[1].token_policies,
        role[1].token_ttl,
        role[1].token_max_ttl,
        `auth/approle/login`,
        meta,
      );
      t.entityId = entity.id;
      return this.envelope(null, { auth: this.authBlock(t) }, path);
    }
    if (path === 'auth/approle/role/' && op === 'list') {
      if (!this.roles.size) throw notFound();
      return e({ keys: [...this.roles.keys()].sort() });
    }
    if ((m = /^auth\/approle\/role\/([^/]+)$/.exec(path))) {
      const name = m[1].toLowerCase();
      if (op === 'read') {
        const r = this.roles.get(name);
        if (!r) throw notFound();
        return e({
          bind_secret_id: r.bind_secret_id,
          secret_id_bound_cidrs: [],
          secret_id_num_uses: r.secret_id_num_uses,
          secret_id_ttl: r.secret_id_ttl,
          local_secret_ids: false,
          token_bound_cidrs: [],
          token_explicit_max_ttl: 0,
          token_max_ttl: r.token_max_ttl,
          token_no_default_policy: false,
          token_num_uses: 0,
          token_period: 0,
          token_policies: r.token_policies,
          token_type: 'default',
          token_ttl: r.token_ttl,
        });
      }
      if (op === 'delete') return (void this.roles.delete(name), null);
      const prev = this.roles.get(name);
      const num = Number(body.secret_id_num_uses ?? prev?.secret_id_num_uses ?? 0);
      if (num < 0) throw badRequest('secret_id_num_uses cannot be negative');
      const policies = body.token_policies ?? body.policies ?? prev?.token_policies ?? [];
      const role: Role = {
        role_id: prev?.role_id ?? randomUUID(),
        token_policies: (Array.isArray(policies) ? policies : String(policies).split(','))
          .map((p) => String(p).trim().toLowerCase())
          .filter(Boolean),
        token_ttl: duration(body.token_ttl, prev?.token_ttl ?? 3600),
        token_max_ttl: duration(body.token_max_ttl, prev?.token_max_ttl ?? 86400),
        secret_id_num_uses: num,
        secret_id_ttl: duration(body.secret_id_ttl, prev?.secret_id_ttl ?? 0),
        bind_secret_id:
          body.bind_secret_id === undefined
            ? (prev?.bind_secret_id ?? true)
            : Boolean(body.bind_secret_id),
      };
      if (role.token_max_ttl && role.token_ttl > role.token_max_ttl)
        throw badRequest("'token_ttl' cannot be greater than 'token_max_ttl'");
      if (!role.bind_secret_id)
        throw badRequest('at least one constraint should be enabled on the role');
      this.roles.set(name, role);
      return null;
    }
    if ((m = /^auth\/approle\/role\/([^/]+)\/role-id$/.exec(path))) {
      const r = this.roles.get(m[1].toLowerCase());
      if (!r) throw notFound();
      return e({ role_id: r.role_id });
    }
    if ((m = /^auth\/approle\/role\/([^/]+)\/secret-id$/.exec(path)) && op !== 'list') {
      const name = m[1].toLowerCase();
      const r = this.roles.get(name);
      if (!r) throw badRequest(`role "${name}" does not exist`);
      const secretId = randomUUID();
      const accessor = randomUUID();
      this.onIssued([secretId]);
      this.secretIds.set(secretId, {
        role: name,
        accessor,
        usesLeft: r.secret_id_num_uses,
        expiresAt: r.secret_id_ttl ? this.now() + r.secret_id_ttl * 1000 : 0,
      });
      return e({
        secret_id: secretId,
        secret_id_accessor: accessor,
        secret_id_ttl: r.secret_id_ttl,
        secret_id_num_uses: r.secret_id_num_uses,
      });
    }

    // --- Kubernetes auth (login is checked against the configured TokenReview endpoint)
    if (path.startsWith('auth/kubernetes/') && !this.auths.has('kubernetes/'))
      throw new VaultError(404, [`no handler for route "${path}". route entry not found.`]);
    if (path === 'auth/kubernetes/config') {
      if (op === 'read') return e(this.k8sConfig ?? null);
      this.k8sConfig = {
        kubernetes_host: String(body.kubernetes_host ?? ''),
        kubernetes_ca_cert: String(body.kubernetes_ca_cert ?? ''),
      };
      return null;
    }
    if ((m = /^auth\/kubernetes\/role\/([^/]+)$/.exec(path))) {
      if (op === 'read') {
        const r = this.k8sRoles.get(m[1]);
        if (!r) throw notFound();
        return e({
          bound_service_account_names: r.names,
          bound_service_account_namespaces: r.namespaces,
          audience: r.audience,
          token_policies: r.policies,
          token_ttl: r.ttl,
          token_max_ttl: r.maxTtl,
          alias_name_source: r.aliasNameSource,
        });
      }
      const list = (v: unknown) =>
        Array.isArray(v)
          ? v.map(String)
          : String(v ?? '')
              .split(',')
              .filter(Boolean);
      const k8sRole = {
        names: list(body.bound_service_account_names),
        namespaces: list(body.bound_service_account_namespaces),
        audience: String(body.audience ?? ''),
        policies: list(body.token_policies ?? body.policies),
        ttl: duration(body.token_ttl, 3600),
        maxTtl: duration(body.token_max_ttl, 86400),
        aliasNameSource: String(body.alias_name_source ?? 'serviceaccount_uid'),
      };
      if (!['serviceaccount_uid', 'serviceaccount_name'].includes(k8sRole.aliasNameSource))
        throw badRequest(`invalid alias_name_source: ${k8sRole.aliasNameSource}`);
      if (k8sRole.ttl > k8sRole.maxTtl)
        throw badRequest("'token_ttl' cannot be greater than 'token_max_ttl'");
      this.k8sRoles.set(m[1], k8sRole);
      return null;
    }
    if (path === 'auth/kubernetes/login') {
      const role = this.k8sRoles.get(String(body.role ?? ''));
      if (!role) throw badRequest(`invalid role name "${String(body.role)}"`);
      if (!this.k8sConfig?.kubernetes_host)
        throw badRequest('could not load backend configuration');
      const review = await fetch(
        `${this.k8sConfig.kubernetes_host}/apis/authentication.k8s.io/v1/tokenreviews`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            apiVersion: 'authentication.k8s.io/v1',
            kind: 'TokenReview',
            spec: { token: String(body.jwt ?? '') },
          }),
        },
      )
        .then(
          (r) =>
            r.json() as Promise<{
              status?: { authenticated?: boolean; user?: { username?: string; uid?: string } };
            }>,
        )
        .catch(() => undefined);
      if (!review?.status?.authenticated) throw new VaultError(403, ['permission denied']);
      const [, , namespace, name] = String(review.status.user?.username ?? '').split(':');
      if (!role.names.includes(name) && !role.names.includes('*'))
        throw new VaultError(403, ['service account name not authorized']);
      if (!role.namespaces.includes(namespace) && !role.namespaces.includes('*'))
        throw new VaultError(403, ['namespace not authorized']);
      const uid = String(review.status.user?.uid ?? '');
      const meta = {
        service_account_name: name,
        service_account_namespace: namespace,
        service_account_secret_name: '',
        service_account_uid: uid,
      };
      // alias_name_source: serviceaccount_uid (the default) or serviceaccount_name
      const aliasName =
        role.aliasNameSource === 'serviceaccount_name' || !uid ? `${namespace}/${name}` : uid;
      const entity = this.identityStore.entityForLogin(
        this.authMount('kubernetes/'),
        aliasName,
        meta,
      );
      const t = this.issueToken(role.policies, role.ttl, role.maxTtl, 'auth/kubernetes/login', {
        role: String(body.role),
        ...meta,
      });
      t.entityId = entity.id;
      return this.envelope(null, { auth: this.authBlock(t) }, path);
    }

    // --- KV v2 at secret/
    if ((m = /^secret\/data\/(.+)$/.exec(path))) {
      const key = m[1];
      const entry = this.kv.get(key);
      if (op === 'read') {
        if (!entry) throw notFound();
        const version = body.version ? Number(body.version) : entry.versions.length;
        const v = entry.versions[version - 1];
        if (!v) throw notFound();
        const metadata = {
          created_time: v.created_time,
          custom_metadata: null,
          deletion_time: v.deletion_time,
          destroyed: v.destroyed,
          version,
        };
        if (v.deletion_time || v.destroyed) {
          throw Object.assign(new VaultError(404, []), { body: e({ data: null, metadata }) });
        }
        return e({ data: v.data, metadata });
      }
      if (op === 'delete') {
        if (entry)
          entry.versions[entry.versions.length - 1].deletion_time = new Date(
            this.now(),
          ).toISOString();
        return null;
      }
      const cas = (body.options as { cas?: number } | undefined)?.cas;
      const current = entry?.versions.length ?? 0;
      if (cas !== undefined && Number(cas) !== current)
        throw badRequest('check-and-set parameter did not match the current version');
      if (!body.data || typeof body.data !== 'object') throw badRequest('no data provided');
      const at = new Date(this.now()).toISOString();
      const next = entry ?? { versions: [], created_time: at, updated_time: at };
      // every stored value but identifiers (`client_id`: a name, not a secret)
      this.onIssued(
        Object.entries(body.data as Record<string, unknown>)
          .filter(([k, v]) => typeof v === 'string' && !k.endsWith('_id'))
          .map(([, v]) => String(v)),
      );
      next.versions.push({
        data: body.data as Record<string, unknown>,
        created_time: at,
        deletion_time: '',
        destroyed: false,
      });
      next.updated_time = at;
      this.kv.set(key, next);
      return e({
        created_time: at,
        custom_metadata: null,
        deletion_time: '',
        destroyed: false,
        version: next.versions.length,
      });
    }
    if ((m = /^secret\/metadata\/(.*)$/.exec(path))) {
      const key = m[1];
      if (op === 'list') {
        const prefix = key;
        const keys = [
          ...new Set(
            [...this.kv.keys()]
              .filter((k) => k.startsWith(prefix))
              .map((k) => {
                const rest = k.slice(prefix.length);
                const i = rest.indexOf('/');
                return i < 0 ? rest : rest.slice(0, i + 1);
              }),
          ),
        ].sort();
        if (!keys.length) throw notFound();
        return e({ keys });
      }
      const entry = this.kv.get(key);
      if (op === 'delete') return (void this.kv.delete(key), null);
      if (!entry) throw notFound();
      return e({
        cas_required: false,
        created_time: entry.created_time,
        current_version: entry.versions.length,
        custom_metadata: null,
        delete_version_after: '0s',
        max_versions: 0,
        oldest_version: 1,
        updated_time: entry.updated_time,
        versions: Object.fromEntries(
          entry.versions.map((v, i) => [
            String(i + 1),
            {
              created_time: v.created_time,
              deletion_time: v.deletion_time,
              destroyed: v.destroyed,
            },
          ]),
        ),
      });
    }

    throw new VaultError(404, [`no handler for route "${path}". route entry not found.`]);
  }
}

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > 32 * 1024 * 1024) throw new VaultError(413, ['request too large']);
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw badRequest('error parsing JSON');
  }
}
