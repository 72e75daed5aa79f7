import { randomUUID } from 'node:crypto';
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

interface Role {
  role_id: string;
  token_policies: string[];
  token_ttl: number;
  token_max_ttl: number;
  secret_id_num_uses: number;
  secret_id_ttl: number;
  bind_secret_id: boolean;
}

interface SecretId {
  role: string;
  accessor: string;
  /** uses left; 0 = unlimited */
  usesLeft: number;
  ttl: number;
  /** ms; 0 = never */
  expiresAt: number;
  createdAt: number;
  metadata: Record<string, string>;
}

export interface AppRoleDeps {
  tokens: TokenStore;
  identity: IdentityStore;
  now: () => number;
  onIssued: (values: string[]) => void;
  /** the mount, once `sys/auth/approle` is enabled */
  mount: () => AuthMount | undefined;
}

const NAME = String.raw`(\w(?:[\w.-]*\w)?)`;

/** builtin/credential/approle: roles, role-id, secret-ids (and their accessors), login. */
export class AppRoleBackend implements Backend {
  readonly mount = 'auth/approle/';
  readonly type = 'approle';
  readonly routes: Route[];
  private readonly roles = new Map<string, Role>();
  private readonly secretIds = new Map<string, SecretId>();

  constructor(private readonly deps: AppRoleDeps) {
    const role = (r: RouteRequest) => this.role(r.params[0]);
    const bySecretId = (r: RouteRequest) => {
      const id = String(r.body.secret_id ?? '');
      if (!id) throw badRequest('missing secret_id');
      const sid = this.live(id);
      return sid && sid.role === r.params[0].toLowerCase() ? { id, sid } : undefined;
    };
    const destroyById = (r: RouteRequest): Reply => {
      role(r);
      const found = bySecretId(r);
      if (found) this.secretIds.delete(found.id);
      return null;
    };
    const byAccessor = (r: RouteRequest) => {
      const name = role(r)[0];
      const accessor = String(r.body.secret_id_accessor ?? '');
      if (!accessor) throw badRequest('missing secret_id_accessor');
      const entry = [...this.secretIds].find(
        ([id, s]) => s.accessor === accessor && s.role === name && this.live(id),
      );
      return { accessor, entry };
    };
    const missingAccessor = (accessor: string) =>
      `failed to find accessor entry for secret_id_accessor: "${accessor}"`;
    const destroyByAccessor = (r: RouteRequest): Reply => {
      const { accessor, entry } = byAccessor(r);
      // Vault answers 500 here (a plain Go error); vault-dev keeps the message, as a 400
      if (!entry) throw badRequest(missingAccessor(accessor));
      this.secretIds.delete(entry[0]);
      return null;
    };
    this.routes = [
      { pattern: /^login$/, unauthenticated: true, operations: { update: (r) => this.login(r) } },
      {
        pattern: /^role\/?$/,
        operations: {
          list: () => {
            if (!this.roles.size) throw notFound();
            return { data: { keys: [...this.roles.keys()].sort() } };
          },
        },
      },
      {
        pattern: new RegExp(`^role/${NAME}$`),
        exists: ({ params }) => this.roles.has(params[0].toLowerCase()),
        operations: {
          read: (r) => this.readRole(r.params[0]),
          create: (r) => this.writeRole(r),
          update: (r) => this.writeRole(r),
          delete: (r) => this.deleteRole(r.params[0]),
        },
      },
      {
        pattern: new RegExp(`^role/${NAME}/role-id$`),
        operations: {
          read: (r) => {
            const found = this.roles.get(r.params[0].toLowerCase());
            if (!found) throw notFound();
            return { data: { role_id: found.role_id } };
          },
          update: (r) => {
            const [, found] = role(r);
            if (!r.body.role_id) throw badRequest('missing role_id');
            found.role_id = String(r.body.role_id);
            return null;
          },
        },
      },
      {
        pattern: new RegExp(`^role/${NAME}/secret-id/?$`),
        operations: { update: (r) => this.generateSecretId(r), list: (r) => this.listSecretIds(r) },
      },
      {
        pattern: new RegExp(`^role/${NAME}/secret-id/lookup$`),
        operations: {
          update: (r) => {
            role(r);
            const found = bySecretId(r);
            return found ? { data: this.describe(found.sid) } : null;
          },
        },
      },
      {
        pattern: new RegExp(`^role/${NAME}/secret-id/destroy$`),
        operations: { update: destroyById, delete: destroyById },
      },
      {
        pattern: new RegExp(`^role/${NAME}/secret-id-accessor/lookup$`),
        operations: {
          update: (r) => {
            const { accessor, entry } = byAccessor(r);
            // Vault ≥ 1.9: a 404 carrying the error in an envelope (RespondWithStatusCode)
            if (!entry) return { raw: { data: { error: missingAccessor(accessor) } }, status: 404 };
            return { data: this.describe(entry[1]) };
          },
        },
      },
      {
        pattern: new RegExp(`^role/${NAME}/secret-id-accessor/destroy$`),
        operations: { update: destroyByAccessor, delete: destroyByAccessor },
      },
    ];
  }

  enabled(): boolean {
    return !!this.deps.mount();
  }

  private role(name: string): [string, Role] {
    const key = name.toLowerCase();
    const r = this.roles.get(key);
    if (!r) throw new VaultError(404, [`role "${key}" does not exist`]);
    return [key, r];
  }

  /** a secret-id still usable: not expired (vault-dev checks expiry at once, Vault on tidy) */
  private live(id: string): SecretId | undefined {
    const s = this.secretIds.get(id);
    if (s && s.expiresAt && s.expiresAt <= this.deps.now()) {
      this.secretIds.delete(id);
      return undefined;
    }
    return s;
  }

  private readRole(name: string): Reply {
    const r = this.roles.get(name.toLowerCase());
    if (!r) throw notFound();
    return {
      data: {
        bind_secret_id: r.bind_secret_id,
        local_secret_ids: false,
        secret_id_bound_cidrs: [],
        secret_id_num_uses: r.secret_id_num_uses,
        secret_id_ttl: r.secret_id_ttl,
        token_bound_cidrs: [],
        token_explicit_max_ttl: 0,
        token_max_ttl: r.token_max_ttl,
        token_no_default_policy: false,
        token_num_uses: 0,
        token_period: 0,
        token_policies: r.token_policies,
        token_ttl: r.token_ttl,
        token_type: 'default',
      },
    };
  }

  private writeRole({ params: [rawName], body }: RouteRequest): Reply {
    const name = rawName.toLowerCase();
    const prev = this.roles.get(name);
    const num = Number(body.secret_id_num_uses ?? prev?.secret_id_num_uses ?? 0);
    if (!Number.isInteger(num)) throw badRequest('secret_id_num_uses must be an integer');
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
          : body.bind_secret_id === true || body.bind_secret_id === 'true',
    };
    if (role.token_max_ttl && role.token_ttl > role.token_max_ttl)
      throw badRequest("'token_ttl' cannot be greater than 'token_max_ttl'");
    if (!role.bind_secret_id)
      throw badRequest('at least one constraint should be enabled on the role');
    this.roles.set(name, role);
    return null;
  }

  /** a deleted role takes its secret-ids with it */
  private deleteRole(name: string): Reply {
    const key = name.toLowerCase();
    this.roles.delete(key);
    for (const [id, s] of this.secretIds) if (s.role === key) this.secretIds.delete(id);
    return null;
  }

  private generateSecretId(r: RouteRequest): Reply {
    const name = r.params[0].toLowerCase();
    const role = this.roles.get(name);
    if (!role) throw badRequest(`role "${name}" does not exist`);
    if (!role.bind_secret_id) throw badRequest('bind_secret_id is not set on the role');
    const secretId = randomUUID();
    const accessor = randomUUID();
    this.deps.onIssued([secretId]);
    this.secretIds.set(secretId, {
      role: name,
      accessor,
      usesLeft: role.secret_id_num_uses,
      ttl: role.secret_id_ttl,
      expiresAt: role.secret_id_ttl ? this.deps.now() + role.secret_id_ttl * 1000 : 0,
      createdAt: this.deps.now(),
      metadata: parseMetadata(r.body.metadata),
    });
    return {
      data: {
        secret_id: secretId,
        secret_id_accessor: accessor,
        secret_id_num_uses: role.secret_id_num_uses,
        secret_id_ttl: role.secret_id_ttl,
      },
    };
  }

  /** LIST …/secret-id: the accessors, never the secret-ids */
  private listSecretIds(r: RouteRequest): Reply {
    const [name] = this.role(r.params[0]);
    const keys = [...this.secretIds]
      .filter(([id, s]) => s.role === name && this.live(id))
      .map(([, s]) => s.accessor)
      .sort();
    if (!keys.length) throw notFound();
    return { data: { keys } };
  }

  private describe(s: SecretId): Record<string, unknown> {
    const created = new Date(s.createdAt).toISOString();
    return {
      cidr_list: [],
      creation_time: created,
      expiration_time: s.expiresAt ? new Date(s.expiresAt).toISOString() : '0001-01-01T00:00:00Z',
      last_updated_time: created,
      metadata: s.metadata,
      secret_id_accessor: s.accessor,
      secret_id_num_uses: s.usesLeft,
      secret_id_ttl: s.ttl,
      token_bound_cidrs: [],
    };
  }

  private login({ body }: RouteRequest): Reply {
    const roleId = String(body.role_id ?? '');
    if (!roleId) throw badRequest('missing role_id');
    const secretId = String(body.secret_id ?? '');
    const role = [...this.roles.entries()].find(([, r]) => r.role_id === roleId);
    if (role?.[1].bind_secret_id && !secretId) throw badRequest('missing secret_id');
    const sid = this.live(secretId);
    if (!role || !sid || sid.role !== role[0]) throw badRequest('invalid role or secret ID');
    if (sid.usesLeft > 0) {
      sid.usesLeft -= 1;
      if (sid.usesLeft === 0) this.secretIds.delete(secretId);
    }
    const meta = { ...sid.metadata, role_name: role[0] };
    // the alias is the role_id: every login through one role shares one entity
    const entity = this.deps.identity.entityForLogin(this.deps.mount()!, roleId, meta);
    const t = this.deps.tokens.create({
      policies: sanitizePolicies(role[1].token_policies, true),
      ttl: role[1].token_ttl,
      maxTtl: role[1].token_max_ttl,
      path: 'auth/approle/login',
      displayName: 'approle',
      meta: { role_name: role[0] },
      entityId: entity.id,
      renewable: true,
      numUses: 0,
    });
    return { auth: authBlock(t) };
  }
}

/** `metadata`: a JSON object string (or object) of string values */
function parseMetadata(v: unknown): Record<string, string> {
  if (v === undefined || v === null || v === '') return {};
  let parsed: unknown = v;
  if (typeof v === 'string') {
    try {
      parsed = JSON.parse(v);
    } catch {
      throw badRequest('failed to parse metadata: invalid JSON');
    }
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw badRequest('failed to parse metadata: not a JSON object');
  return Object.fromEntries(Object.entries(parsed).map(([k, val]) => [k, String(val)]));
}
