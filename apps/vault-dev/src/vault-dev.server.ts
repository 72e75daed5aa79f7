import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { closeLingeringIfUnread, refuseMalformedRequests } from '@lpi/service-bootstrap';
import {
  denied,
  duration,
  invalidToken,
  matchRoute,
  noHandler,
  notFound,
  VaultError,
  type Backend,
  type Caller,
  type Op,
  type Reply,
  type Route,
} from './backend';
import { AppRoleBackend } from './backends/approle';
import { DatabaseBackend } from './backends/database';
import { IdentityBackend } from './backends/identity';
import { IdentityStore, type AuthMount } from './backends/identity-store';
import { KubernetesBackend } from './backends/kubernetes';
import { KvBackend } from './backends/kv';
import { LeasesBackend } from './backends/leases';
import { mountAccessor, SysBackend, type AuthEntry, type MountEntry } from './backends/sys';
import { TokenBackend } from './backends/token';
import { logicalPath, MAX_REQUEST_BYTES, readJson, RequestTooLarge } from './request';
import { Acl, DEFAULT_POLICY, parsePolicy, type PathRule } from './policy';
import { SecretLeases, type RevokeRetry } from './secret-leases';
import { TokenStore, type Token } from './token-store';

/**
 * A Vault-API-compatible dev server for tests and the local demo: the endpoints this project
 * uses, Vault's envelope, status codes and error bodies, and Vault's ACL rules. NOT Vault.
 *
 * The core does what Vault's core does around a request: parse it, find the mount's backend
 * and route, authenticate, check the ACL (create vs update by the route's existence check,
 * sudo for root-protected paths), call the handler, then build the envelope or wrap it.
 */

/** Injected at the top level as well as under `data` (http/handler.go injectDataIntoTopRoutes). */
const INJECTED = [/^sys\/mounts\/?$/, /^sys\/auth\/?$/, /^sys\/capabilities(-self|-accessor)?$/];

export interface VaultDevOptions {
  rootToken?: string;
  now?: () => number;
  /** Told every secret it issues or stores (tokens, secret-ids, KV values): the leak scan. */
  onIssued?: (values: string[]) => void;
  /** Vault's `api_addr` (the identity tokens' default issuer); default: the listen address */
  apiAddr?: string;
  /** a listener's `max_request_size`: larger bodies are refused with 413 (default 32 MiB) */
  maxRequestBytes?: number;
  /** failed lease revocations: attempts and backoff base (Vault: 6 attempts from 10 s) */
  revokeRetry?: RevokeRetry;
}

export class VaultDev {
  readonly rootToken: string;
  private readonly tokens: TokenStore;
  /** tokens on their last allowed use: revoked once the request is answered */
  private readonly lastUses = new Set<string>();
  private readonly policies = new Map<string, string>([['default', DEFAULT_POLICY]]);
  private readonly mounts = new Map<string, MountEntry>([
    ['secret/', { type: 'kv', options: { version: '2' } }],
    ['cubbyhole/', { type: 'cubbyhole', options: {} }],
    ['sys/', { type: 'system', options: {} }],
    ['identity/', { type: 'identity', options: {} }],
  ]);
  private readonly auths = new Map<string, AuthEntry>([
    ['token/', { type: 'token', accessor: mountAccessor('token') }],
  ]);
  /** most specific mount first: `sys/leases/` before `sys/` */
  private readonly backends: Backend[];
  private apiAddr: string;
  private readonly now: () => number;
  private readonly onIssued: (values: string[]) => void;
  private readonly maxRequestBytes: number;
  private readonly leases: SecretLeases;
  private readonly database: DatabaseBackend;

  constructor(options: VaultDevOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxRequestBytes = options.maxRequestBytes ?? MAX_REQUEST_BYTES;
    this.onIssued = options.onIssued ?? (() => undefined);
    this.apiAddr = options.apiAddr ?? '';
    const identity = new IdentityStore(this.now);
    this.tokens = new TokenStore(this.now, (v) => this.onIssued(v));
    const authMount = (path: string) => () => this.authMount(path);
    this.leases = new SecretLeases(this.tokens, this.now, options.revokeRetry);
    this.database = new DatabaseBackend({
      leases: this.leases,
      now: this.now,
      onIssued: (v) => this.onIssued(v),
      mounted: () => this.mounts.get('database/')?.type === 'database',
    });
    this.backends = [
      new LeasesBackend(this.tokens, this.leases, this.now),
      new SysBackend({
        mounts: this.mounts,
        auths: this.auths,
        policies: this.policies,
        tokens: this.tokens,
        acl: (t) => this.acl(t),
        now: this.now,
        unmount: (path) =>
          path === this.database.mount ? this.database.unmount() : Promise.resolve(),
      }),
      new TokenBackend(this.tokens, this.now),
      new AppRoleBackend({
        tokens: this.tokens,
        identity,
        now: this.now,
        onIssued: (v) => this.onIssued(v),
        mount: authMount('approle/'),
      }),
      new KubernetesBackend({ tokens: this.tokens, identity, mount: authMount('kubernetes/') }),
      new KvBackend(this.now, (v) => this.onIssued(v)),
      this.database,
      new IdentityBackend({
        store: identity,
        now: this.now,
        apiAddr: () => this.apiAddr,
        onIssued: (v) => this.onIssued(v),
      }),
    ];
    this.rootToken = options.rootToken ?? `hvs.${randomBytes(18).toString('base64url')}`;
    this.tokens.create(
      {
        policies: ['root'],
        ttl: 0,
        maxTtl: 0,
        path: 'auth/token/root',
        displayName: 'root',
        meta: null,
        renewable: false,
        numUses: 0,
      },
      this.rootToken,
    );
  }

  /** Serves HTTP, or HTTPS with `tls` (PEM certificate chain and key), like a Vault listener. */
  listen(port: number, host = '127.0.0.1', tls?: { cert: string; key: string }): Promise<Server> {
    const handler = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res);
    const server = tls
      ? createHttpsServer({ cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' }, handler)
      : createServer(handler);
    refuseMalformedRequests(server, (_status, message) => JSON.stringify({ errors: [message] }));
    return new Promise((resolve) =>
      server.listen(port, host, () => {
        const bound = (server.address() as { port: number }).port;
        const scheme = tls ? 'https' : 'http';
        this.apiAddr ||= `${scheme}://${host.includes(':') ? `[${host}]` : host}:${bound}`;
        resolve(server);
      }),
    );
  }

  /** Stops lease timers and ends the database pools; call after the listener is closed. */
  async close(): Promise<void> {
    this.leases.close();
    await this.database.close();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // an answer sent before the body was read (a 413, a LIST carrying a body) closes lingering,
    // as Go's net/http does, so the client reads the answer rather than a reset
    closeLingeringIfUnread(req, res);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Content-Type', 'application/json');
    let token: Token | undefined;
    try {
      const url = parseUrl(req.url);
      if (!url.pathname.startsWith('/v1/')) throw notFound();
      let path = logicalPath(url.pathname);
      const method = req.method ?? 'GET';
      const isList =
        method === 'LIST' || (method === 'GET' && url.searchParams.get('list') === 'true');
      if (isList && !path.endsWith('/')) path += '/';
      const backend = this.backends.find((b) => path.startsWith(b.mount));
      if (backend?.enabled && !backend.enabled()) throw noHandler(path);
      const mounted = backend && matchRoute(backend, path);
      let op: Op;
      if (isList) op = 'list';
      else if (method === 'GET') op = 'read';
      else if (method === 'POST' || method === 'PUT')
        op = mounted?.route.exists?.(mounted) === false ? 'create' : 'update';
      else if (method === 'DELETE') op = 'delete';
      else if (
        method === 'PATCH' &&
        !/^application\/merge-patch\+json/i.test(req.headers['content-type'] ?? '')
      )
        throw new VaultError(415, [
          `PATCH requires Content-Type of application/merge-patch+json, provided ${req.headers['content-type'] ?? ''}`,
        ]);
      else throw new VaultError(405, ['unsupported operation']);
      // only writes carry a body; it is bounded before it is parsed
      const body =
        op === 'create' || op === 'update' ? await readJson(req, this.maxRequestBytes) : {};
      for (const [k, v] of url.searchParams) if (k !== 'list') body[k] ??= v;

      token = this.authenticate(req, path, op, mounted?.route);
      if (!backend) throw noHandler(path);
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
      this.reply(req, res, path, backend, reply);
    } catch (err) {
      const e = err instanceof VaultError ? err : new VaultError(500, ['internal error']);
      if (e instanceof RequestTooLarge) res.setHeader('Connection', 'close');
      this.respond(res, e.status, e.body ?? { errors: e.errors });
    } finally {
      if (token && this.lastUses.delete(token.id)) this.tokens.revoke(token.id);
    }
  }

  /** A raw body as is; otherwise the envelope (injected on sys routes), wrapped if asked. */
  private reply(
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    backend: Backend,
    reply: Reply,
  ): void {
    if (reply && 'raw' in reply) {
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      if (reply.raw === null) {
        res.statusCode = reply.status ?? 204;
        res.end();
      } else this.respond(res, reply.status ?? 200, reply.raw);
      return;
    }
    if (
      !reply ||
      (!reply.warnings?.length && !reply.auth && !reply.lease && reply.data === undefined)
    ) {
      res.statusCode = 204;
      res.end();
      return;
    }
    const envelope = this.envelope(path, backend.type, reply);
    const wrapTtl = req.headers['x-vault-wrap-ttl'];
    if (wrapTtl && !reply.status) {
      this.respond(res, 200, this.wrap(envelope, path, duration(wrapTtl, 300)));
      return;
    }
    this.respond(res, reply.status ?? 200, envelope);
  }

  private respond(res: ServerResponse, status: number, body: unknown) {
    res.statusCode = status;
    res.end(JSON.stringify(body));
  }

  private envelope(
    path: string,
    mountType: string,
    reply: Exclude<Reply, null | { raw: unknown }>,
  ): Record<string, unknown> {
    const data = reply.data ?? null;
    const env: Record<string, unknown> = {
      request_id: randomUUID(),
      lease_id: reply.lease?.id ?? '',
      renewable: reply.lease?.renewable ?? false,
      lease_duration: reply.lease?.duration ?? 0,
      data,
      wrap_info: null,
      warnings: reply.warnings?.length ? reply.warnings : null,
      auth: reply.auth ?? null,
      mount_type: mountType,
    };
    if (data && INJECTED.some((r) => r.test(path))) Object.assign(env, data);
    return env;
  }

  private caller(t: Token): Caller {
    return {
      id: t.id,
      accessor: t.accessor,
      policies: t.policies,
      entityId: t.entityId ?? '',
      displayName: t.displayName,
      root: t.policies.includes('root'),
      can: (path, capability) =>
        t.policies.includes('root') ||
        (this.acl(t).capabilities(path) as string[]).includes(capability),
    };
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
    if (route?.unauthenticated) return this.tokens.get(id);
    // a revoked, expired or unknown token: 403 permission denied + invalid token, everywhere
    const token = this.tokens.get(id);
    if (!token || token.wrapped) throw invalidToken();
    if (token.policies.includes('root')) return this.use(token);
    // without an existence check a write is always `update` (request_handling.go)
    const aclOp = op === 'create' && !route?.exists ? 'update' : op;
    if (!this.acl(token).allows(path, aclOp, !!route?.sudo)) throw denied();
    return this.use(token);
  }

  /** num_uses: the last use is still served, then the token is revoked (token_store.go UseToken) */
  private use(token: Token): Token {
    if (token.numUses > 0) {
      token.numUses -= 1;
      if (token.numUses === 0) this.lastUses.add(token.id);
    }
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

  private authMount(path: string): AuthMount | undefined {
    const m = this.auths.get(path);
    return m && { path: `auth/${path}`, type: m.type, accessor: m.accessor };
  }

  /** vault/wrapping.go: the response goes into an orphan, single-use token */
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
    const t = this.tokens.create({
      policies: ['response-wrapping'],
      ttl,
      maxTtl: ttl,
      path,
      displayName: '',
      meta: null,
      renewable: false,
      numUses: 1,
      wrapped: { body: response, creationPath: path, ttl, wrappedAccessor },
    });
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
}

function parseUrl(raw: string | undefined): URL {
  try {
    return new URL(raw ?? '/', 'http://vault');
  } catch {
    throw new VaultError(400, ['invalid request URL']);
  }
}
