import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { createHash } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { Request, Response } from 'express';
import { importJWK, jwtVerify, type CryptoKey, type JWTPayload } from 'jose';
import type { ProviderScope } from '@lpi/access-matrix';
import { AppError } from '@lpi/service-bootstrap';
import { SandboxState } from './state';

export const REQUIRED_SCOPE = 'sandbox:required-scope';
export const RequireScope = (scope: ProviderScope) => SetMetadata(REQUIRED_SCOPE, scope);

export interface AccessTokenClaims extends JWTPayload {
  client_id: string;
  scope?: string;
  cnf?: { 'x5t#S256'?: string };
}

export type AuthenticatedRequest = Request & { token: AccessTokenClaims };

const REALM = 'sandbox-payments-api';

// the peer certificate is fixed for a TLS connection: hash its DER once per socket
const thumbprints = new WeakMap<object, string>();
function peerThumbprint(socket: TLSSocket): string | undefined {
  let t = thumbprints.get(socket);
  if (!t) {
    const peer = socket.getPeerX509Certificate?.();
    if (!peer) return undefined;
    t = createHash('sha256').update(peer.raw).digest('base64url');
    thumbprints.set(socket, t);
  }
  return t;
}
const invalidToken = (description: string) =>
  new AppError(
    401,
    'authentication_error',
    'invalid_token',
    `access token rejected: ${description}`,
    {
      'WWW-Authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`,
    },
  );

/**
 * RFC 9068 + RFC 8705 validation: signature with the pinned algorithm, issuer, audience,
 * `typ: at+jwt`, expiry (5 s leeway), then the certificate binding against the TLS peer.
 * Also enforces the per-client rate limit and injected faults.
 */
@Injectable()
export class TokenGuard implements CanActivate {
  private key?: Promise<CryptoKey | Uint8Array>;

  constructor(
    private readonly state: SandboxState,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const res = context.switchToHttp().getResponse<Response>();
    const claims = await this.authenticate(req);
    req.token = claims;

    const limit = this.state.rateLimiter.take(claims.client_id);
    res.setHeader('X-RateLimit-Limit', String(this.state.rateLimiter.limit));
    res.setHeader('X-RateLimit-Remaining', String(limit.remaining));
    res.setHeader('X-RateLimit-Reset', String(limit.resetSeconds));
    if (!limit.allowed) {
      throw new AppError(
        429,
        'rate_limit_error',
        'rate_limited',
        `rate limit of ${this.state.rateLimiter.limit} requests per minute exceeded`,
        {
          'Retry-After': String(limit.resetSeconds),
        },
      );
    }
    const injected = this.state.faults.takeApiFailure();
    if (injected) {
      throw new AppError(
        injected,
        injected === 429 ? 'rate_limit_error' : 'api_error',
        'injected_fault',
        `injected ${injected}`,
        injected === 429 ? { 'Retry-After': '1' } : {},
      );
    }

    const required = this.reflector.get<ProviderScope | undefined>(
      REQUIRED_SCOPE,
      context.getHandler(),
    );
    const granted = (claims.scope ?? '').split(' ');
    if (required && !granted.includes(required)) {
      throw new AppError(
        403,
        'permission_error',
        'insufficient_scope',
        `this operation requires the ${required} scope`,
        {
          'WWW-Authenticate': `Bearer realm="${REALM}", error="insufficient_scope", error_description="requires ${required}", scope="${required}"`,
        },
      );
    }
    return true;
  }

  private async authenticate(req: Request): Promise<AccessTokenClaims> {
    const query = req.query as Record<string, unknown>;
    const body = req.body as Record<string, unknown> | undefined;
    if (
      query?.access_token !== undefined ||
      (body && typeof body === 'object' && 'access_token' in body)
    ) {
      throw new AppError(
        400,
        'invalid_request_error',
        'invalid_request',
        'send the access token in the Authorization header only',
        {
          'WWW-Authenticate': `Bearer realm="${REALM}", error="invalid_request"`,
        },
      );
    }
    const header = req.headers.authorization;
    if (!header) {
      throw new AppError(
        401,
        'authentication_error',
        'missing_token',
        'an access token is required',
        {
          'WWW-Authenticate': `Bearer realm="${REALM}"`,
        },
      );
    }
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/.exec(header);
    if (!match) throw invalidToken('malformed Authorization header');

    const { config } = this.state;
    let claims: AccessTokenClaims;
    try {
      this.key ??= importJWK(this.state.publicJwk, 'ES256');
      const verified = await jwtVerify<AccessTokenClaims>(match[1], await this.key, {
        issuer: config.issuer,
        audience: config.audience,
        typ: 'at+jwt',
        algorithms: ['ES256'],
        clockTolerance: 5,
        requiredClaims: ['exp', 'iat', 'jti', 'sub', 'client_id'],
      });
      claims = verified.payload;
    } catch (err) {
      const code = (err as { code?: string }).code ?? 'ERR_JWT_INVALID';
      throw invalidToken(code === 'ERR_JWT_EXPIRED' ? 'token expired' : `token invalid (${code})`);
    }

    const client = this.state.registry.active(claims.client_id);
    if (!client) throw invalidToken('client is disabled');
    if (
      this.state.registry.isRevoked(claims.jti) ||
      this.state.registry.revokedSince(claims.client_id, claims.iat ?? 0)
    )
      throw invalidToken('token revoked');

    const bound = claims.cnf?.['x5t#S256'];
    const socket = req.socket as TLSSocket;
    if (bound || client.certificate_bound) {
      if (!socket.authorized) throw invalidToken('client certificate required');
      const presented = peerThumbprint(socket);
      if (!presented) throw invalidToken('client certificate required');
      if (presented !== bound) throw invalidToken('certificate thumbprint mismatch');
      // defence in depth: even a token bound at issuance is only good with the client's own cert
      const peer = socket.getPeerX509Certificate?.();
      if (!peer || !this.state.registry.certificateBelongs(claims.client_id, peer))
        throw invalidToken('client certificate does not belong to the client');
    }
    return claims;
  }
}
