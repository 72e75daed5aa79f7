import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import Provider, { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Logger } from 'pino';
import { PROVIDER_SCOPES } from '@lpi/access-matrix';
import type { ClientRegistry } from './client-registry';
import { MAX_BODY_BYTES, boundRequestBodies, oauthRefusal } from './edge-bounds';
import type { FaultState } from './faults';
import type { SandboxConfig } from './sandbox.config';

interface RefreshRecord {
  clientId: string;
  scope: string;
  x5t?: string;
  expiresAt: number;
  /** unix seconds, for the admin API's per-client revocation */
  issuedAt: number;
}

const thumbprint = (cert: X509Certificate) =>
  createHash('sha256').update(cert.raw).digest('base64url');

/**
 * The client certificate, only if it chains to the CA we trust: tokens are never bound to a
 * certificate an attacker minted (found by the breach drill: binding to any presented
 * certificate let a stolen secret plus a self-made certificate obtain a token).
 */
function peerCertificate(ctx: KoaContextWithOIDC): X509Certificate | undefined {
  const socket = ctx.req.socket as TLSSocket;
  if (!socket.authorized) return undefined;
  return socket.getPeerX509Certificate?.() ?? undefined;
}

/**
 * The certificate a token may be bound to: the verified peer certificate, and only if it
 * belongs to the client that authenticated (RFC 8705 §2.1.2), whatever the auth method. Found
 * by an outside attacker: payment-service's secret over a TLS session with reporting-service's
 * certificate got a payments:write token bound to reporting-service's certificate.
 */
function bindableCertificate(
  ctx: KoaContextWithOIDC,
  registry: ClientRegistry,
): X509Certificate | undefined {
  const cert = peerCertificate(ctx);
  const clientId = ctx.oidc.client?.clientId;
  if (!cert || !clientId) return undefined;
  if (!registry.certificateBelongs(clientId, cert))
    throw new errors.InvalidClientAuth('client certificate does not belong to the client');
  return cert;
}

/**
 * The authorization server: oidc-provider, client credentials only, JWT access tokens bound
 * to the client certificate. Two documented extensions on top of the library:
 * - strict scopes: a missing or unknown scope is `invalid_scope` (oidc-provider would drop it);
 * - seed-002 refresh tokens for clients registered with `refresh_tokens`.
 * Secret rotation (two valid secrets) is handled before client authentication.
 */
export function createAuthorizationServer(
  config: SandboxConfig,
  registry: ClientRegistry,
  faults: FaultState,
  signingJwk: Record<string, unknown>,
  log: Logger,
): { provider: Provider; server: Server } {
  const refreshTokens = new Map<string, RefreshRecord>();
  const resourceServerInfo = {
    scope: PROVIDER_SCOPES.join(' '),
    audience: config.audience,
    accessTokenTTL: config.SANDBOX_TOKEN_TTL_SECONDS,
    accessTokenFormat: 'jwt' as const,
    jwt: { sign: { alg: 'ES256' as const } },
  };

  const memory = new Map<string, unknown>();
  class Adapter {
    constructor(private readonly model: string) {}
    async upsert(id: string, payload: unknown, expiresIn?: number) {
      const key = `${this.model}:${id}`;
      memory.set(key, payload);
      // e.g. ReplayDetection (one per client assertion): gone when it expires
      if (expiresIn) setTimeout(() => memory.delete(key), expiresIn * 1000).unref();
    }
    async find(id: string) {
      if (this.model === 'Client') return registry.metadata(id);
      return memory.get(`${this.model}:${id}`);
    }
    async findByUserCode() {
      return undefined;
    }
    async findByUid() {
      return undefined;
    }
    async consume() {}
    async destroy(id: string) {
      memory.delete(`${this.model}:${id}`);
    }
    async revokeByGrantId() {}
  }

  const provider = new Provider(config.issuer, {
    adapter: Adapter as never,
    jwks: { keys: [signingJwk] },
    scopes: [...PROVIDER_SCOPES],
    responseTypes: [],
    clientAuthMethods: [
      'client_secret_basic',
      'client_secret_post',
      'tls_client_auth',
      'private_key_jwt',
    ],
    clientDefaults: {
      grant_types: ['client_credentials'],
      response_types: [],
      id_token_signed_response_alg: 'ES256',
      token_endpoint_auth_method: 'client_secret_basic',
    },
    ttl: { ClientCredentials: () => config.SANDBOX_TOKEN_TTL_SECONDS },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      dPoP: { enabled: false },
      introspection: { enabled: false },
      revocation: { enabled: false },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => config.audience,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx: KoaContextWithOIDC, resource: string) => {
          if (resource !== config.audience) throw new errors.InvalidTarget();
          const requested = String(ctx.oidc.params?.scope ?? '')
            .split(' ')
            .filter(Boolean);
          if (requested.length === 0)
            throw new errors.InvalidScope('scope parameter is required', '');
          const unknown = requested.filter(
            (s) => !(PROVIDER_SCOPES as readonly string[]).includes(s),
          );
          if (unknown.length)
            throw new errors.InvalidScope('requested scope is not supported', unknown.join(' '));
          return resourceServerInfo;
        },
      },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        tlsClientAuth: true,
        getCertificate: (ctx: KoaContextWithOIDC) => bindableCertificate(ctx, registry),
        certificateAuthorized: (ctx: KoaContextWithOIDC) =>
          (ctx.req.socket as TLSSocket).authorized === true,
        certificateSubjectMatches: (
          ctx: KoaContextWithOIDC,
          property: string,
          expected: string,
        ) => {
          const cert = peerCertificate(ctx);
          const clientId = ctx.oidc.client?.clientId;
          if (!cert || !clientId || property !== 'tls_client_auth_subject_dn') return false;
          return Boolean(expected) && registry.certificateBelongs(clientId, cert);
        },
      },
    },
  } as never);

  // seed-002 extension: refresh_token grant for clients registered for it
  provider.registerGrantType(
    'refresh_token',
    async (ctx: KoaContextWithOIDC) => {
      const { client } = ctx.oidc;
      const presented = String(ctx.oidc.params?.refresh_token ?? '');
      const record = refreshTokens.get(presented);
      if (!client || !record || record.clientId !== client.clientId) {
        throw new errors.InvalidGrant('refresh token is invalid or was issued to another client');
      }
      if (record.expiresAt <= Date.now()) {
        refreshTokens.delete(presented);
        throw new errors.InvalidGrant('refresh token has expired');
      }
      if (registry.revokedSince(record.clientId, record.issuedAt)) {
        refreshTokens.delete(presented);
        throw new errors.InvalidGrant('refresh token was revoked');
      }
      const registered: readonly string[] = registry.active(client.clientId)?.scopes ?? [];
      if (record.scope.split(' ').some((s) => s && !registered.includes(s))) {
        throw new errors.InvalidGrant(
          'refresh token carries scopes the client no longer has; use client credentials',
        );
      }
      const cert = peerCertificate(ctx);
      if (record.x5t && (!cert || thumbprint(cert) !== record.x5t)) {
        throw new errors.InvalidGrant('refresh token is bound to another client certificate');
      }
      if (cert && !registry.certificateBelongs(client.clientId, cert))
        throw new errors.InvalidClientAuth('client certificate does not belong to the client');
      const token = new provider.ClientCredentials({ client, scope: record.scope });
      token.resourceServer = new provider.ResourceServer(config.audience, resourceServerInfo);
      if (cert) token.setThumbprint('x5t', cert);
      const value = await token.save();
      ctx.body = {
        access_token: value,
        expires_in: token.expiration,
        token_type: 'Bearer',
        scope: record.scope,
      };
    },
    ['refresh_token', 'scope'],
  );

  provider.on(
    'grant.error',
    (
      ctx: KoaContextWithOIDC,
      err: { error?: string; error_description?: string; error_detail?: string },
    ) => {
      log.warn(
        {
          client_id: ctx.oidc?.client?.clientId ?? ctx.oidc?.params?.client_id,
          error: err.error,
          reason: err.error_detail ?? err.error_description,
        },
        'token request refused',
      );
    },
  );
  provider.on('server_error', (_ctx: unknown, err: Error) =>
    log.error({ err }, 'authorization server error'),
  );

  provider.use(async (ctx, next) => {
    const served = SERVED[ctx.path];
    if (!served || !served.includes(ctx.method)) {
      // a client-credentials server: oidc-provider's other routes (/auth, /me, /session/end...)
      // are not served; wrong method on a served path is 405
      ctx.status = served ? 405 : 404;
      if (served) ctx.set('Allow', served.join(', '));
      ctx.body = { error: 'invalid_request', error_description: 'no such endpoint' };
      return;
    }
    try {
      await next();
    } catch (err) {
      oauthError(ctx, err, log);
    }
    if (ctx.path === DISCOVERY && ctx.status === 200) ctx.body = servedMetadata(ctx.body);
  });

  // before oidc-provider: fault injection, rotation window; after: refresh token issuance
  provider.use(async (ctx, next) => {
    const isToken = ctx.path === '/token' && ctx.method === 'POST';
    if (isToken && faults.tokenEndpointDown) {
      ctx.status = 503;
      ctx.set('Retry-After', '1');
      ctx.body = {
        error: 'temporarily_unavailable',
        error_description: 'token endpoint is down (injected fault)',
      };
      return;
    }
    if (isToken) {
      const mismatch = await preAuthenticate(ctx, registry);
      if (mismatch) {
        log.warn(
          {
            client_id: mismatch,
            error: 'invalid_client',
            reason: 'authentication method does not match the registration',
          },
          'token request refused',
        );
        ctx.status = 401;
        ctx.body = {
          error: 'invalid_client',
          error_description:
            'the provided authentication mechanism does not match the registered client authentication method',
        };
        return;
      }
    }
    await next();
    if (isToken && ctx.status === 200) {
      const issued = (ctx.body as { access_token?: string }).access_token;
      if (issued) registry.onIssued([issued]);
      const payload = issued?.split('.')[1];
      if (payload) {
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as {
          jti: string;
          client_id: string;
          exp: number;
        };
        registry.recordIssued(String(claims.jti), Number(claims.exp));
        registry.countIssued(String(claims.client_id));
      }
    }
    if (isToken && ctx.status === 200 && ctx.oidc?.params?.grant_type === 'client_credentials') {
      const clientId = ctx.oidc.client?.clientId;
      const record = clientId ? registry.active(clientId) : undefined;
      if (record?.refresh_tokens) {
        const body = ctx.body as Record<string, unknown>;
        const value = `rt_${randomBytes(32).toString('base64url')}`;
        const cert = peerCertificate(ctx);
        refreshTokens.set(value, {
          clientId: record.client_id,
          scope: String(body.scope ?? ''),
          x5t: cert ? thumbprint(cert) : undefined,
          expiresAt: Date.now() + config.SANDBOX_REFRESH_TOKEN_TTL_SECONDS * 1000,
          issuedAt: Math.floor(Date.now() / 1000),
        });
        registry.onIssued([value]);
        ctx.body = { ...body, refresh_token: value };
      }
    }
  });

  const server = createServer(
    {
      cert: config.tls.cert,
      key: config.tls.key,
      ca: config.tls.ca,
      requestCert: true,
      rejectUnauthorized: false,
    },
    provider.callback(),
  );
  boundRequestBodies(server, MAX_BODY_BYTES, oauthRefusal);
  return { provider, server };
}

const DISCOVERY = '/.well-known/openid-configuration';
const SERVED: Record<string, string[]> = {
  [DISCOVERY]: ['GET', 'HEAD'],
  '/jwks': ['GET', 'HEAD'],
  '/token': ['POST'],
};

/** Discovery lists only what this server serves (RFC 8414 §2; issue 16 item 5). */
function servedMetadata(body: unknown): Record<string, unknown> {
  const m = body as Record<string, unknown>;
  const keep = [
    'issuer',
    'token_endpoint',
    'jwks_uri',
    'scopes_supported',
    'response_types_supported',
    'grant_types_supported',
    'token_endpoint_auth_methods_supported',
    'token_endpoint_auth_signing_alg_values_supported',
    'tls_client_certificate_bound_access_tokens',
  ];
  return Object.fromEntries(keep.filter((k) => m[k] !== undefined).map((k) => [k, m[k]] as const));
}

/**
 * Errors our own middleware throws (before oidc-provider's error handling) in RFC 6749 §5.2
 * form: Koa's default would answer `text/plain`, and a non-OAuth error would be a bare 500.
 */
function oauthError(ctx: KoaContextWithOIDC, err: unknown, log: Logger): void {
  if (ctx.req.socket.destroyed || (ctx as unknown as { headerSent?: boolean }).headerSent) return;
  const e = err as { status?: number; error?: string; error_description?: string };
  if (e.error && e.status && e.status < 500) {
    ctx.status = e.status;
    ctx.body = { error: e.error, error_description: e.error_description ?? e.error };
    return;
  }
  log.error({ err }, 'authorization server error');
  ctx.status = 500;
  ctx.body = { error: 'server_error', error_description: 'unexpected error' };
}

/** `application/x-www-form-urlencoded`, refusing a repeated parameter (RFC 6749 §3.1). */
function parseForm(raw: string): Record<string, string> {
  const form = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(raw)) {
    if (form.has(k))
      throw new errors.InvalidRequest(`parameter '${k.slice(0, 40)}' must not be repeated`);
    form.set(k, v);
  }
  return Object.fromEntries(form);
}

/** RFC 6749 §2.3.1: both halves of a Basic credential are form-urlencoded. */
function decodeBasic(header: string): { id: string; secret: string } {
  const decoded = Buffer.from(header.slice(6), 'base64').toString();
  const sep = decoded.indexOf(':');
  try {
    if (sep < 0) throw new Error('no separator');
    const part = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    return { id: part(decoded.slice(0, sep)), secret: part(decoded.slice(sep + 1)) };
  } catch {
    throw new errors.InvalidRequest('invalid authorization header value format');
  }
}

/**
 * Runs before oidc-provider's client authentication:
 * - strict methods: oidc-provider accepts a secret by Basic or in the body interchangeably; a
 *   strict provider accepts only the registered method (returns the client id on mismatch);
 * - rotation window: a client may authenticate with its previous secret until it is retired.
 *   oidc-provider knows one secret per client, so a request carrying the previous one is
 *   rewritten to the current one.
 */
async function preAuthenticate(
  ctx: KoaContextWithOIDC,
  registry: ClientRegistry,
): Promise<string | undefined> {
  const raw = await new Promise<string>((resolve, reject) => {
    let data = '';
    ctx.req.setEncoding('utf8');
    ctx.req.on('data', (chunk: string) => {
      data += chunk;
      // edge-bounds.ts stops the socket first; this keeps the reader bounded on its own
      if (data.length > MAX_BODY_BYTES) {
        ctx.req.removeAllListeners('data');
        reject(new errors.InvalidRequest('request body too large'));
      }
    });
    ctx.req.on('end', () => resolve(data));
    ctx.req.on('error', reject);
    ctx.req.on('close', () => reject(new errors.InvalidRequest('request body incomplete')));
  });
  const form = parseForm(raw);
  const auth = ctx.get('authorization');
  if (auth.startsWith('Basic ')) {
    const { id, secret } = decodeBasic(auth);
    const method = registry.active(id)?.token_endpoint_auth_method;
    if (method && method !== 'client_secret_basic') return id;
    if (registry.matchSecret(id, secret) === 'previous') {
      const current = registry.get(id)?.secrets.current ?? '';
      ctx.req.headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(current)}`).toString('base64')}`;
    }
  } else if (form.client_id && form.client_secret) {
    const method = registry.active(form.client_id)?.token_endpoint_auth_method;
    if (method && method !== 'client_secret_post') return form.client_id;
    if (registry.matchSecret(form.client_id, form.client_secret) === 'previous') {
      form.client_secret = registry.get(form.client_id)?.secrets.current ?? '';
    }
  }
  (ctx.req as unknown as { body: Record<string, string> }).body = form;
  return undefined;
}
