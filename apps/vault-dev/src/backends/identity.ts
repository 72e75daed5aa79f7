import { randomInt } from 'node:crypto';
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
import { IdentityStore, type Entity } from './identity-store';
import {
  decodeTemplate,
  templateClaims,
  TemplateError,
  validateTemplate,
} from './identity-template';
import {
  ALGORITHMS,
  generateSigningKey,
  parseJwt,
  signJwt,
  sortKeys,
  verifyJwt,
  type Algorithm,
  type SigningKey,
} from './oidc-keys';

/**
 * Vault's identity secrets engine, the parts behind identity tokens
 * (vault/identity_store_oidc.go): issuer config, named keys with pre-published next keys and
 * rotation, roles, token issue for the caller's entity, discovery, JWKS and introspection;
 * plus `identity/entity/id/:id` so an operator (or a test) can disable an entity.
 */
interface NamedKey {
  algorithm: Algorithm;
  rotationPeriod: number;
  verificationTtl: number;
  allowedClientIds: string[];
  signing: SigningKey;
  next: SigningKey;
  /** every public key still published; `expireAt` 0 = the current or next key */
  ring: { key: SigningKey; expireAt: number }[];
  nextRotation: number;
}

interface OidcRole {
  key: string;
  template: string;
  ttl: number;
  clientId: string;
}

const NAME = String.raw`(\w(?:[\w.-]*\w)?)`;
const DAY = 86400;
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const base62 = (n: number) => Array.from({ length: n }, () => BASE62[randomInt(62)]).join('');
const commaList = (v: unknown): string[] | undefined =>
  v === undefined || v === null
    ? undefined
    : (Array.isArray(v) ? v.map(String) : String(v).split(','))
        .map((s) => s.trim())
        .filter(Boolean);

export interface IdentityDeps {
  store: IdentityStore;
  now: () => number;
  /** Vault's `api_addr`: the default issuer */
  apiAddr: () => string;
  onIssued: (values: string[]) => void;
}

export class IdentityBackend implements Backend {
  readonly mount = 'identity/';
  readonly type = 'identity';
  readonly routes: Route[];
  private issuer = '';
  private readonly keys = new Map<string, NamedKey>();
  private readonly roles = new Map<string, OidcRole>();

  constructor(private readonly deps: IdentityDeps) {
    this.routes = [
      {
        pattern: /^oidc\/config$/,
        operations: { read: () => this.readConfig(), update: (r) => this.writeConfig(r) },
      },
      { pattern: /^oidc\/key\/?$/, operations: { list: () => this.list(this.keys) } },
      {
        pattern: new RegExp(`^oidc/key/${NAME}$`),
        exists: ({ params }) => this.keys.has(params[0]),
        operations: {
          read: (r) => this.readKey(r.params[0]),
          create: (r) => this.writeKey(r),
          update: (r) => this.writeKey(r),
          delete: (r) => this.deleteKey(r.params[0]),
        },
      },
      {
        pattern: new RegExp(`^oidc/key/${NAME}/rotate$`),
        operations: { update: (r) => this.rotateKey(r) },
      },
      { pattern: /^oidc\/role\/?$/, operations: { list: () => this.list(this.roles) } },
      {
        pattern: new RegExp(`^oidc/role/${NAME}$`),
        exists: ({ params }) => this.roles.has(params[0]),
        operations: {
          read: (r) => this.readRole(r.params[0]),
          create: (r) => this.writeRole(r),
          update: (r) => this.writeRole(r),
          delete: (r) => (void this.roles.delete(r.params[0]), null),
        },
      },
      {
        pattern: new RegExp(`^oidc/token/${NAME}$`),
        operations: { read: (r) => this.issueToken(r) },
      },
      { pattern: /^oidc\/introspect$/, operations: { update: (r) => this.introspect(r) } },
      {
        pattern: /^oidc\/\.well-known\/openid-configuration$/,
        unauthenticated: true,
        operations: { read: () => this.discovery() },
      },
      {
        pattern: /^oidc\/\.well-known\/keys$/,
        unauthenticated: true,
        operations: { read: () => this.jwks() },
      },
      {
        pattern: /^entity\/id\/([^/]+)$/,
        operations: {
          read: (r) => this.readEntity(r.params[0]),
          update: (r) => this.updateEntity(r),
          delete: (r) => (void this.deps.store.entities.delete(r.params[0]), null),
        },
      },
      {
        pattern: /^entity\/id\/?$/,
        operations: { list: () => this.list(this.deps.store.entities) },
      },
    ];
  }

  get effectiveIssuer(): string {
    return `${this.issuer || this.deps.apiAddr()}/v1/identity/oidc`;
  }

  private list(map: Map<string, unknown>): Reply {
    if (!map.size) throw notFound();
    return { data: { keys: [...map.keys()].sort() } };
  }

  // --- config

  private readConfig(): Reply {
    return { data: { issuer: this.issuer } };
  }

  private writeConfig({ body }: RouteRequest): Reply {
    if (body.issuer === undefined) return null;
    const issuer = String(body.issuer);
    if (issuer) {
      let url: URL | undefined;
      try {
        url = new URL(issuer);
      } catch {
        url = undefined;
      }
      const pathOk = url && (url.pathname === '/' || url.pathname === '');
      if (
        !url ||
        !['http:', 'https:'].includes(url.protocol) ||
        !url.hostname ||
        !pathOk ||
        url.search ||
        url.hash ||
        url.username ||
        issuer.endsWith('/')
      )
        throw badRequest(
          'invalid issuer, which must include only a scheme, host, and optional port (e.g. https://example.com:8200)',
        );
    }
    this.issuer = issuer;
    if (!issuer) return null;
    return {
      data: null,
      warnings: [
        'If "issuer" is set explicitly, all tokens must be validated against that address, including those issued by secondary clusters. Setting issuer to "" will restore the default behavior of using the cluster\'s api_addr as the issuer.',
      ],
    };
  }

  // --- named keys

  private readKey(name: string): Reply {
    const k = this.keys.get(name);
    if (!k) throw notFound();
    return {
      data: {
        algorithm: k.algorithm,
        allowed_client_ids: k.allowedClientIds,
        rotation_period: k.rotationPeriod,
        verification_ttl: k.verificationTtl,
      },
    };
  }

  private async writeKey({ params: [name], body }: RouteRequest): Promise<Reply> {
    const prev = this.keys.get(name);
    const rotationPeriod = duration(body.rotation_period, prev?.rotationPeriod ?? DAY);
    const verificationTtl = duration(body.verification_ttl, prev?.verificationTtl ?? DAY);
    if (rotationPeriod < 60) throw badRequest('rotation_period must be at least one minute');
    if (verificationTtl > 10 * rotationPeriod)
      throw badRequest('verification_ttl cannot be longer than 10x rotation_period');
    const algorithm = String(body.algorithm ?? prev?.algorithm ?? 'RS256');
    if (!ALGORITHMS.includes(algorithm as Algorithm))
      throw badRequest(`unknown signing algorithm "${algorithm}"`);
    if (prev && [...this.roles.values()].some((r) => r.key === name && r.ttl > verificationTtl))
      throw badRequest(
        `unable to update key "${name}" because it is currently referenced by one or more roles with a token ttl greater than ${verificationTtl} seconds`,
      );
    const allowedClientIds = commaList(body.allowed_client_ids) ?? prev?.allowedClientIds ?? [];
    await this.putKey(name, prev, {
      algorithm: algorithm as Algorithm,
      rotationPeriod,
      verificationTtl,
      allowedClientIds,
    });
    return null;
  }

  private async putKey(
    name: string,
    prev: NamedKey | undefined,
    settings: Pick<
      NamedKey,
      'algorithm' | 'rotationPeriod' | 'verificationTtl' | 'allowedClientIds'
    >,
  ): Promise<void> {
    const now = this.deps.now();
    if (prev && prev.algorithm === settings.algorithm) {
      if (prev.rotationPeriod !== settings.rotationPeriod)
        prev.nextRotation = now + settings.rotationPeriod * 1000;
      Object.assign(prev, settings);
      return;
    }
    // a new key, or a new algorithm: a new signing key and a pre-published next key
    const [signing, next] = await Promise.all([
      generateSigningKey(settings.algorithm),
      generateSigningKey(settings.algorithm),
    ]);
    const ring = (prev?.ring ?? []).map((e) => ({
      key: e.key,
      expireAt: e.expireAt || now + settings.verificationTtl * 1000,
    }));
    ring.push({ key: signing, expireAt: 0 }, { key: next, expireAt: 0 });
    this.keys.set(name, {
      ...settings,
      signing,
      next,
      ring,
      nextRotation: now + settings.rotationPeriod * 1000,
    });
  }

  private deleteKey(name: string): Reply {
    if (name === 'default') throw badRequest('deletion of key "default" not allowed');
    const users = [...this.roles].filter(([, r]) => r.key === name).map(([n]) => n);
    if (users.length)
      throw badRequest(
        `unable to delete key "${name}" because it is currently referenced by these roles: ${users.sort().join(', ')}`,
      );
    this.keys.delete(name);
    return null;
  }

  private async rotateKey({ params: [name], body }: RouteRequest): Promise<Reply> {
    const k = this.keys.get(name);
    if (!k) throw badRequest(`no named key found at "${name}"`);
    const ttl =
      body.verification_ttl === undefined ? k.verificationTtl : duration(body.verification_ttl, 0);
    await this.rotate(k, ttl);
    return null;
  }

  /** The outgoing key stays published for `verification_ttl`; the pre-published one signs. */
  private async rotate(k: NamedKey, verificationTtl: number): Promise<void> {
    const fresh = await generateSigningKey(k.algorithm);
    const now = this.deps.now();
    const outgoing = k.ring.find((e) => e.key === k.signing);
    if (outgoing) outgoing.expireAt = now + verificationTtl * 1000;
    if (outgoing && verificationTtl === 0) k.ring = k.ring.filter((e) => e !== outgoing);
    k.signing = k.next;
    k.next = fresh;
    k.ring.push({ key: fresh, expireAt: 0 });
    k.nextRotation = now + k.rotationPeriod * 1000;
  }

  /** Vault's periodic function, run lazily: due rotations, then expired ring entries purged. */
  private async refresh(k: NamedKey): Promise<void> {
    for (let i = 0; i < 3 && k.nextRotation <= this.deps.now(); i++)
      await this.rotate(k, k.verificationTtl);
    if (k.nextRotation <= this.deps.now())
      k.nextRotation = this.deps.now() + k.rotationPeriod * 1000;
    const now = this.deps.now();
    k.ring = k.ring.filter((e) => !e.expireAt || e.expireAt > now);
  }

  /** Vault's built-in `default` key, generated the first time a role names it. */
  private async defaultKey(): Promise<void> {
    if (this.keys.has('default')) return;
    await this.putKey('default', undefined, {
      algorithm: 'RS256',
      rotationPeriod: DAY,
      verificationTtl: DAY,
      allowedClientIds: ['*'],
    });
  }

  // --- roles

  private readRole(name: string): Reply {
    const r = this.roles.get(name);
    if (!r) throw notFound();
    return { data: { client_id: r.clientId, key: r.key, template: r.template, ttl: r.ttl } };
  }

  private async writeRole({ params: [name], body }: RouteRequest): Promise<Reply> {
    const prev = this.roles.get(name);
    const keyName = body.key === undefined ? prev?.key : String(body.key);
    if (!keyName) throw badRequest('the key parameter is required');
    if (keyName === 'default') await this.defaultKey();
    const key = this.keys.get(keyName);
    if (!key) throw badRequest(`cannot find key "${keyName}"`);
    const template =
      body.template === undefined ? (prev?.template ?? '') : decodeTemplate(String(body.template));
    try {
      validateTemplate(template);
    } catch (err) {
      if (err instanceof TemplateError) throw badRequest(err.message);
      throw err;
    }
    const ttl = duration(body.ttl, prev?.ttl ?? DAY);
    if (ttl > key.verificationTtl)
      throw badRequest(
        "a role's token ttl cannot be longer than the verification_ttl of the key it references",
      );
    const clientId =
      body.client_id === undefined || body.client_id === ''
        ? (prev?.clientId ?? base62(26))
        : String(body.client_id);
    this.roles.set(name, { key: keyName, template, ttl, clientId });
    return null;
  }

  // --- tokens

  private async issueToken({ params: [name], caller }: RouteRequest): Promise<Reply> {
    const role = this.roles.get(name);
    if (!role) throw badRequest(`role "${name}" not found`);
    const key = this.keys.get(role.key);
    if (!key) throw badRequest(`key "${role.key}" not found`);
    if (!key.allowedClientIds.includes('*') && !key.allowedClientIds.includes(role.clientId))
      throw badRequest(
        `the key "${role.key}" does not list the client ID of the role "${name}" as an allowed client ID`,
      );
    if (!caller?.entityId) throw badRequest("no entity associated with the request's token");
    const warnings: string[] = [];
    let ttl = role.ttl;
    if (ttl > key.verificationTtl) {
      ttl = key.verificationTtl;
      // Go formats the time.Duration with %d: nanoseconds
      warnings.push(
        `a role's token ttl cannot be longer than the verification_ttl of the key it references, setting token ttl to ${ttl * 1e9}`,
      );
    }
    const entity = this.deps.store.entities.get(caller.entityId);
    if (!entity) throw new VaultError(500, [`error loading entity ID "${caller.entityId}"`]);
    await this.refresh(key);
    const iat = Math.floor(this.deps.now() / 1000);
    const claims = {
      ...templateClaims(role.template, entity, iat),
      aud: role.clientId,
      exp: iat + ttl,
      iat,
      iss: this.effectiveIssuer,
      namespace: 'root',
      sub: entity.id,
    };
    const token = signJwt(key.signing, sortKeys(claims) as Record<string, unknown>);
    this.deps.onIssued([token]);
    return {
      data: { client_id: role.clientId, token, ttl: role.ttl },
      warnings: warnings.length ? warnings : undefined,
    };
  }

  // --- discovery, JWKS, introspection

  private discovery(): Reply {
    return {
      raw: {
        issuer: this.effectiveIssuer,
        jwks_uri: `${this.effectiveIssuer}/.well-known/keys`,
        response_types_supported: ['id_token'],
        subject_types_supported: ['public'],
        id_token_signing_alg_values_supported: [...ALGORITHMS],
      },
      headers: { 'Cache-Control': 'max-age=3600' },
    };
  }

  /** Only keys a role references (and the default key once it exists) are published. */
  private async publishedKeys(): Promise<NamedKey[]> {
    const names = new Set([...this.roles.values()].map((r) => r.key));
    if (this.keys.has('default')) names.add('default');
    const keys = [...names].map((n) => this.keys.get(n)).filter((k): k is NamedKey => !!k);
    for (const k of keys) await this.refresh(k);
    return keys;
  }

  private async jwks(): Promise<Reply> {
    const keys = await this.publishedKeys();
    const jwks = keys.flatMap((k) => k.ring.map((e) => e.key.jwk));
    if (!jwks.length) return { raw: { keys: [] } };
    const window = Math.min(...keys.map((k) => Math.min(k.verificationTtl, k.rotationPeriod)));
    return {
      raw: { keys: jwks },
      headers: { 'Cache-Control': `max-age=${randomInt(Math.max(1, window))}` },
    };
  }

  private async introspect({ body }: RouteRequest): Promise<Reply> {
    const inactive = (error: string): Reply => ({ raw: { active: false, error } });
    let jwt;
    try {
      jwt = parseJwt(String(body.token ?? ''));
    } catch (err) {
      return inactive(`error parsing token: ${(err as Error).message}`);
    }
    const jwks = (await this.publishedKeys()).flatMap((k) => k.ring.map((e) => e.key.jwk));
    const candidates = [
      ...jwks.filter((j) => j.kid === jwt.header.kid),
      ...jwks.filter((j) => j.kid !== jwt.header.kid),
    ];
    if (!candidates.some((j) => verifyJwt(jwt, j)))
      return inactive('unable to validate the token signature');
    const claims = jwt.payload;
    const invalid = (what: string) =>
      inactive(`error validating claims: go-jose/go-jose/jwt: validation failed, ${what}`);
    if (claims.iss !== this.effectiveIssuer) return invalid('invalid issuer claim (iss)');
    if (typeof claims.exp === 'number' && claims.exp * 1000 < this.deps.now())
      return invalid('token is expired (exp)');
    const aud = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (body.client_id !== undefined && body.client_id !== '' && !aud.includes(body.client_id))
      return invalid('invalid audience claim (aud)');
    const entity: Entity | undefined = this.deps.store.entities.get(String(claims.sub));
    if (!entity) return inactive('entity was not found');
    if (entity.disabled) return inactive('entity is disabled');
    return { raw: { active: true } };
  }

  // --- entities

  private readEntity(id: string): Reply {
    const e = this.deps.store.entities.get(id);
    if (!e) throw notFound();
    return { data: this.deps.store.describe(e) };
  }

  private updateEntity({ params: [id], body }: RouteRequest): Reply {
    const e = this.deps.store.entities.get(id);
    if (!e) throw badRequest('entity not found from id');
    if (body.disabled !== undefined)
      e.disabled = body.disabled === true || body.disabled === 'true';
    if (body.name !== undefined) e.name = String(body.name);
    if (body.metadata && typeof body.metadata === 'object')
      e.metadata = Object.fromEntries(
        Object.entries(body.metadata as Record<string, unknown>).map(([k, v]) => [k, String(v)]),
      );
    e.lastUpdateTime = new Date(this.deps.now()).toISOString();
    return { data: { id: e.id, name: e.name } };
  }
}
