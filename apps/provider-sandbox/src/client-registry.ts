import { createHash, randomBytes, timingSafeEqual, type X509Certificate } from 'node:crypto';
import { clientSecretForms } from '@lpi/service-bootstrap';
import {
  PROVIDER_SCOPES,
  type ProviderScope,
  type TokenEndpointAuthMethod,
} from '@lpi/access-matrix';
import { AppError } from '@lpi/service-bootstrap';

/** A public key for private_key_jwt: EC P-256 only, never a private member. */
export interface PublicJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg?: 'ES256';
  use?: 'sig';
}

export interface ClientRegistration {
  scopes: ProviderScope[];
  token_endpoint_auth_method: TokenEndpointAuthMethod;
  tls_client_auth_subject_dn?: string;
  /** private_key_jwt: the client's public keys (two during a key rotation). */
  jwks?: { keys: PublicJwk[] };
  /**
   * RFC 8705 binding, for every auth method: the x5t#S256 of the client's certificate (two
   * during a certificate rotation: current and next). Sandbox extension; when absent, the
   * subject DN alone decides which certificates belong to the client.
   */
  tls_client_certificate_thumbprints?: string[];
  refresh_tokens?: boolean;
  certificate_bound?: boolean;
}

interface ClientRecord extends Required<
  Omit<
    ClientRegistration,
    'tls_client_auth_subject_dn' | 'jwks' | 'tls_client_certificate_thumbprints'
  >
> {
  client_id: string;
  tls_client_auth_subject_dn?: string;
  tls_client_certificate_thumbprints?: string[];
  jwks?: { keys: PublicJwk[] };
  secrets: { current: string; previous?: string };
  disabled: boolean;
}

const newSecret = () => randomBytes(32).toString('base64url');

export function equalSecrets(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The provider's client registry: what the admin API writes and the AS and API read. */
export class ClientRegistry {
  private readonly clients = new Map<string, ClientRecord>();

  /** `onIssued` is told every secret and token the provider hands out (test-run leak scan). */
  constructor(readonly onIssued: (values: string[]) => void = () => undefined) {}

  /** Idempotent: an unchanged registration returns no secret; a new client gets one, once. */
  upsert(clientId: string, reg: ClientRegistration): { created: boolean; client_secret?: string } {
    validateRegistration(clientId, reg);
    const existing = this.clients.get(clientId);
    const fields = {
      scopes: [...new Set(reg.scopes)].sort() as ProviderScope[],
      token_endpoint_auth_method: reg.token_endpoint_auth_method,
      tls_client_auth_subject_dn: reg.tls_client_auth_subject_dn,
      tls_client_certificate_thumbprints: reg.tls_client_certificate_thumbprints,
      jwks: reg.jwks,
      refresh_tokens: reg.refresh_tokens ?? false,
      certificate_bound: reg.certificate_bound ?? true,
    };
    if (existing) {
      Object.assign(existing, fields);
      return { created: false };
    }
    // a private_key_jwt client authenticates with its key alone: it is never handed a secret
    const keyOnly = reg.token_endpoint_auth_method === 'private_key_jwt';
    const secret = newSecret();
    if (!keyOnly) this.onIssued(clientSecretForms(clientId, secret));
    this.clients.set(clientId, {
      client_id: clientId,
      ...fields,
      secrets: { current: secret },
      disabled: false,
    });
    return keyOnly ? { created: true } : { created: true, client_secret: secret };
  }

  get(clientId: string): ClientRecord | undefined {
    return this.clients.get(clientId);
  }

  active(clientId: string): ClientRecord | undefined {
    const c = this.clients.get(clientId);
    return c && !c.disabled ? c : undefined;
  }

  rotateSecret(clientId: string): string {
    const c = this.require(clientId);
    const next = newSecret();
    this.onIssued(clientSecretForms(clientId, next));
    c.secrets = { current: next, previous: c.secrets.current };
    return next;
  }

  retirePreviousSecret(clientId: string): void {
    this.require(clientId).secrets.previous = undefined;
  }

  // client_id -> unix seconds: tokens of the client issued at or before it are revoked
  private readonly tokensRevokedAt = new Map<string, number>();

  /** Incident hook: every access and refresh token issued to the client so far stops working. */
  revokeClientTokens(clientId: string): void {
    this.require(clientId);
    this.tokensRevokedAt.set(clientId, Math.floor(Date.now() / 1000));
  }

  /** Whether a token of the client issued at `issuedAt` (unix seconds) was revoked since. */
  revokedSince(clientId: string, issuedAt: number): boolean {
    const at = this.tokensRevokedAt.get(clientId);
    return at !== undefined && issuedAt <= at;
  }

  disable(clientId: string): void {
    this.require(clientId).disabled = true;
  }

  // jti -> exp (unix seconds); expired entries are dropped, so long drills do not grow these
  private readonly issuedJtis = new Map<string, number>();
  private readonly revokedJtis = new Map<string, number>();
  private lastPrune = 0;

  /** Access tokens issued per client (drills check "one token request per client"). */
  readonly issuedCount = new Map<string, number>();

  countIssued(clientId: string): void {
    this.issuedCount.set(clientId, (this.issuedCount.get(clientId) ?? 0) + 1);
  }

  /** JWTs cannot be revoked at the AS, so the API keeps its own list (admin fault hook). */
  recordIssued(jti: string, exp: number): void {
    const now = Date.now() / 1000;
    if (now - this.lastPrune > 10) {
      this.lastPrune = now;
      for (const jtis of [this.issuedJtis, this.revokedJtis])
        for (const [id, e] of jtis) if (e < now - 60) jtis.delete(id);
    }
    this.issuedJtis.set(jti, exp);
  }

  revokeAllIssued(): void {
    for (const [jti, exp] of this.issuedJtis) this.revokedJtis.set(jti, exp);
    this.issuedJtis.clear();
  }

  isRevoked(jti: string | undefined): boolean {
    return jti !== undefined && this.revokedJtis.has(jti);
  }

  /** Which registered secret (if any) the presented one is. */
  matchSecret(clientId: string, presented: string): 'current' | 'previous' | undefined {
    const c = this.active(clientId);
    if (!c) return undefined;
    if (equalSecrets(presented, c.secrets.current)) return 'current';
    if (c.secrets.previous && equalSecrets(presented, c.secrets.previous)) return 'previous';
    return undefined;
  }

  /**
   * Whether a (CA-verified) certificate belongs to this client (RFC 8705 §2.1.2): its subject
   * is the registered subject DN, `CN=<client_id>` when none is registered (one certificate per
   * service, named after it), and, if thumbprints are registered, it is one of them.
   */
  certificateBelongs(clientId: string, cert: X509Certificate): boolean {
    const c = this.active(clientId);
    if (!c) return false;
    if (!sameDn(cert.subject, c.tls_client_auth_subject_dn ?? `CN=${clientId}`)) return false;
    const pinned = c.tls_client_certificate_thumbprints;
    if (!pinned?.length) return true;
    const presented = createHash('sha256').update(cert.raw).digest('base64url');
    return pinned.some((t) => equalSecrets(t, presented));
  }

  /** Client metadata in oidc-provider's format. */
  metadata(clientId: string): Record<string, unknown> | undefined {
    const c = this.active(clientId);
    if (!c) return undefined;
    return {
      client_id: c.client_id,
      client_secret: c.token_endpoint_auth_method.startsWith('client_secret_')
        ? c.secrets.current
        : undefined,
      jwks: c.token_endpoint_auth_method === 'private_key_jwt' ? c.jwks : undefined,
      token_endpoint_auth_signing_alg:
        c.token_endpoint_auth_method === 'private_key_jwt' ? 'ES256' : undefined,
      grant_types: c.refresh_tokens
        ? ['client_credentials', 'refresh_token']
        : ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: c.scopes.join(' '),
      token_endpoint_auth_method: c.token_endpoint_auth_method,
      tls_client_auth_subject_dn: c.tls_client_auth_subject_dn,
      tls_client_certificate_bound_access_tokens: c.certificate_bound,
    };
  }

  private require(clientId: string): ClientRecord {
    const c = this.clients.get(clientId);
    if (!c) throw new AppError(404, 'not_found_error', 'client_not_found', `no client ${clientId}`);
    return c;
  }
}

/** Node prints RDNs one per line, most significant first; RFC 4514 strings use either order. */
function sameDn(nodeSubject: string, registered: string): boolean {
  const norm = (parts: string[]) =>
    parts
      .map((p) => p.trim())
      .filter(Boolean)
      .map((p) => {
        const i = p.indexOf('=');
        return `${p.slice(0, i).trim().toUpperCase()}=${p.slice(i + 1).trim()}`;
      });
  const actual = norm(nodeSubject.split('\n'));
  const expected = norm(registered.split(','));
  const eq = (a: string[], b: string[]) => a.length === b.length && a.every((x, i) => x === b[i]);
  return eq(actual, expected) || eq(actual, [...expected].reverse());
}

function validateRegistration(clientId: string, reg: ClientRegistration): void {
  const bad = (message: string) =>
    new AppError(400, 'invalid_request_error', 'invalid_registration', message);
  if (!/^[a-z0-9][a-z0-9-]{1,62}$/.test(clientId))
    throw bad('client_id must be lowercase letters, digits and dashes');
  if (!Array.isArray(reg.scopes) || reg.scopes.length === 0)
    throw bad('scopes must be a non-empty array');
  const unknown = reg.scopes.filter((s) => !(PROVIDER_SCOPES as readonly string[]).includes(s));
  if (unknown.length) throw bad(`unknown scopes: ${unknown.join(' ')}`);
  if (
    !['client_secret_basic', 'client_secret_post', 'tls_client_auth', 'private_key_jwt'].includes(
      reg.token_endpoint_auth_method,
    )
  )
    throw bad(
      'token_endpoint_auth_method must be client_secret_basic, client_secret_post, tls_client_auth or private_key_jwt',
    );
  if (reg.token_endpoint_auth_method === 'tls_client_auth' && !reg.tls_client_auth_subject_dn)
    throw bad('tls_client_auth needs tls_client_auth_subject_dn');
  const pins = reg.tls_client_certificate_thumbprints;
  if (
    pins &&
    (pins.length < 1 || pins.length > 2 || pins.some((t) => !/^[A-Za-z0-9_-]{43}$/.test(t)))
  )
    throw bad(
      'tls_client_certificate_thumbprints needs one x5t#S256 (two during a certificate rotation)',
    );
  if (reg.token_endpoint_auth_method === 'private_key_jwt') {
    const keys = reg.jwks?.keys ?? [];
    if (keys.length === 0 || keys.length > 2)
      throw bad('private_key_jwt needs jwks with one key (two during a rotation)');
    for (const k of keys)
      if (k.kty !== 'EC' || k.crv !== 'P-256' || !k.x || !k.y || !k.kid || 'd' in k)
        throw bad('jwks keys must be public EC P-256 keys with a kid');
  } else if (reg.jwks) {
    throw bad('jwks is only for private_key_jwt');
  }
}
