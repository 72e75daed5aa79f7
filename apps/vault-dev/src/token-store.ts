import { createHash, randomBytes } from 'node:crypto';

/** A token entry (vault/token_store.go TokenEntry), with the parent link revocation follows. */
export interface Token {
  id: string;
  accessor: string;
  policies: string[];
  ttl: number;
  maxTtl: number;
  issuedAt: number;
  /** ms; 0 = never (root) */
  expiresAt: number;
  /** the path that created it: `auth/approle/login`, `auth/token/create`, … */
  path: string;
  displayName: string;
  meta: Record<string, string> | null;
  /** the identity entity of the login that created it (root and its children have none) */
  entityId?: string;
  /** the parent token's id; none for orphans (logins, create-orphan, root) */
  parent?: string;
  renewable: boolean;
  /** uses left; 0 = unlimited */
  numUses: number;
  lastRenewal?: number;
  wrapped?: {
    body: Record<string, unknown>;
    creationPath: string;
    ttl: number;
    wrappedAccessor: string;
  };
}

export type NewToken = Omit<Token, 'id' | 'accessor' | 'issuedAt' | 'expiresAt'>;

/** Vault's accessors: 24 base62 characters. */
const accessorId = () => randomBytes(24).toString('base64url').replace(/[-_]/g, '').slice(0, 24);

export class TokenStore {
  private readonly byId = new Map<string, Token>();
  private readonly byAccessor = new Map<string, string>();
  private readonly revokeListeners: ((id: string) => void)[] = [];

  constructor(
    private readonly now: () => number,
    private readonly onIssued: (values: string[]) => void,
  ) {}

  create(entry: NewToken, id?: string): Token {
    const issuedAt = this.now();
    const token: Token = {
      ...entry,
      id: id ?? `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: accessorId(),
      issuedAt,
      expiresAt: entry.ttl ? issuedAt + entry.ttl * 1000 : 0,
    };
    this.byId.set(token.id, token);
    this.byAccessor.set(token.accessor, token.id);
    if (!id) this.onIssued([token.id]);
    return token;
  }

  /** A live token, or undefined; an expired one is revoked with its children, as Vault's expiry does. */
  get(id: string | undefined): Token | undefined {
    const t = id === undefined ? undefined : this.byId.get(id);
    if (t && t.expiresAt && t.expiresAt <= this.now()) {
      this.revoke(t.id);
      return undefined;
    }
    return t;
  }

  /** Told the id of every token revoked (explicitly, with its parent, or at expiry). */
  onRevoke(listener: (id: string) => void): void {
    this.revokeListeners.push(listener);
  }

  byAccessorId(accessor: string): Token | undefined {
    return this.get(this.byAccessor.get(accessor));
  }

  accessors(): string[] {
    return [...this.byId.values()]
      .filter((t) => !t.expiresAt || t.expiresAt > this.now())
      .map((t) => t.accessor);
  }

  /** revokeTree: the token and every descendant */
  revoke(id: string): void {
    const t = this.byId.get(id);
    if (!t) return;
    this.byId.delete(id);
    this.byAccessor.delete(t.accessor);
    for (const listener of this.revokeListeners) listener(id);
    for (const child of [...this.byId.values()].filter((c) => c.parent === id))
      this.revoke(child.id);
  }

  /** revoke-orphan: the token only; its children lose their parent */
  revokeOrphan(id: string): void {
    const t = this.byId.get(id);
    if (!t) return;
    this.byId.delete(id);
    this.byAccessor.delete(t.accessor);
    for (const listener of this.revokeListeners) listener(id);
    for (const child of this.byId.values()) if (child.parent === id) child.parent = undefined;
  }

  /**
   * The token's lease id: `<creation path>/h<hash>` (expiration.go RegisterAuth, salted id).
   * Root tokens and tokens without a TTL have no lease.
   */
  leaseId(t: Token): string | undefined {
    if (!t.expiresAt || t.wrapped) return undefined;
    return `${t.path}/h${createHash('sha256').update(t.id).digest('hex')}`;
  }

  withLeases(): { leaseId: string; token: Token }[] {
    const out: { leaseId: string; token: Token }[] = [];
    for (const t of [...this.byId.values()]) {
      const live = this.get(t.id);
      const leaseId = live && this.leaseId(live);
      if (live && leaseId) out.push({ leaseId, token: live });
    }
    return out;
  }
}

/** The `auth` block of a login or token-create response (sdk/logical/translate_response.go). */
export function authBlock(t: Token, leaseDuration = t.ttl): Record<string, unknown> {
  return {
    client_token: t.id,
    accessor: t.accessor,
    policies: t.policies,
    token_policies: t.policies,
    metadata: t.meta,
    lease_duration: leaseDuration,
    renewable: t.renewable,
    entity_id: t.entityId ?? '',
    token_type: 'service',
    orphan: !t.parent,
    mfa_requirement: null,
    num_uses: t.numUses,
  };
}

/** `auth/token/lookup*` data; `lookup-accessor` hides the id, as Vault does. */
export function describeToken(t: Token, now: number, hideId = false): Record<string, unknown> {
  const ttl = t.expiresAt ? Math.max(0, Math.round((t.expiresAt - now) / 1000)) : 0;
  return {
    accessor: t.accessor,
    creation_time: Math.floor(t.issuedAt / 1000),
    creation_ttl: t.ttl,
    display_name: t.displayName,
    entity_id: t.entityId ?? '',
    expire_time: t.expiresAt ? new Date(t.expiresAt).toISOString() : null,
    explicit_max_ttl: 0,
    id: hideId ? '' : t.id,
    issue_time: new Date(t.issuedAt).toISOString(),
    ...(t.lastRenewal
      ? {
          last_renewal: new Date(t.lastRenewal).toISOString(),
          last_renewal_time: Math.floor(t.lastRenewal / 1000),
        }
      : {}),
    meta: t.meta,
    num_uses: t.numUses,
    orphan: !t.parent,
    path: t.path,
    policies: t.policies,
    renewable: t.renewable && t.expiresAt > 0,
    ttl,
    type: 'service',
  };
}
