import {
  type CanActivate,
  type ExecutionContext,
  Inject,
  Injectable,
  RequestMethod,
} from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import {
  isCallerRoute,
  isPublicRoute,
  isSignedRoute,
  routeKey,
  routesOf,
  type CallerRoute,
  type RouteGrant,
  type ServiceName,
} from '@lpi/access-matrix';
import { AppError } from '@lpi/service-bootstrap';
import { CallerTokenError, CallerTokenVerifier, type CallerClaims } from './caller-token.verifier';

export const CALLER_AUTH_SERVICE = Symbol('CALLER_AUTH_SERVICE');

/** What a handler can read about its caller once the guard let the request through. */
export interface CallerRequest {
  caller?: CallerClaims;
}

const joinPath = (...parts: string[]) =>
  `/${parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/')}`;

const asList = (v: unknown): string[] =>
  Array.isArray(v) ? v.map(String) : [typeof v === 'string' ? v : ''];

/**
 * `METHOD /path` of a Nest handler, from the metadata its decorators wrote (the same on any
 * HTTP adapter), one per path when a decorator lists several.
 */
export function routeKeysOf(controller: object, handler: object): string[] | undefined {
  const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
  if (method === undefined) return undefined;
  const verb = RequestMethod[method];
  return asList(Reflect.getMetadata(PATH_METADATA, controller)).flatMap((base) =>
    asList(Reflect.getMetadata(PATH_METADATA, handler)).map((path) =>
      routeKey({ method: verb, path: joinPath(base, path) }),
    ),
  );
}

type Decision = { kind: 'open' } | { kind: 'token'; route: CallerRoute } | { kind: 'undeclared' };

const challenge = (service: string, params = '') =>
  `Bearer realm="${service}"${params ? `, ${params}` : ''}`;

/**
 * Every request to a service passes here first (APP_GUARD). The route is looked up in the
 * access matrix by its handler's metadata: public and provider-signed routes pass (the
 * signature is the handler's job), a route the matrix does not declare is refused whatever
 * the token, and every other route needs a caller token for this service whose caller and
 * scope the route grants.
 */
@Injectable()
export class CallerAuthGuard implements CanActivate {
  private readonly decisions = new WeakMap<object, Decision>();
  private readonly grants: Map<string, RouteGrant>;

  constructor(
    @Inject(CALLER_AUTH_SERVICE) private readonly service: ServiceName,
    private readonly verifier: CallerTokenVerifier,
  ) {
    this.grants = new Map(routesOf(service).map((r) => [routeKey(r), r]));
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const decision = this.decide(context);
    if (decision.kind === 'open') return true;
    if (decision.kind === 'undeclared')
      throw new AppError(
        403,
        'permission_error',
        'route_not_declared',
        'this route is not declared in the access matrix, so no caller may call it',
      );
    const req = context
      .switchToHttp()
      .getRequest<CallerRequest & { headers: Record<string, unknown> }>();
    const claims = await this.verify(bearerToken(req.headers.authorization, this.service));
    const { route } = decision;
    if (!route.callers.includes(claims.caller))
      throw this.forbidden(
        'caller_not_allowed',
        `${claims.caller} may not call ${routeKey(route)}`,
        route,
      );
    if (!claims.scopes.includes(route.scope))
      throw this.forbidden(
        'insufficient_scope',
        `${routeKey(route)} requires the ${route.scope} scope`,
        route,
      );
    req.caller = claims;
    return true;
  }

  private decide(context: ExecutionContext): Decision {
    const handler = context.getHandler();
    let decision = this.decisions.get(handler);
    if (!decision) {
      const keys = routeKeysOf(context.getClass(), handler) ?? [];
      const grants = keys.map((k) => this.grants.get(k));
      const first = grants[0];
      decision =
        !first || grants.some((g) => g !== first)
          ? { kind: 'undeclared' }
          : isCallerRoute(first)
            ? { kind: 'token', route: first }
            : isPublicRoute(first) || isSignedRoute(first)
              ? { kind: 'open' }
              : { kind: 'undeclared' };
      this.decisions.set(handler, decision);
    }
    return decision;
  }

  private async verify(token: string): Promise<CallerClaims> {
    try {
      return await this.verifier.verify(token);
    } catch (err) {
      if (err instanceof CallerTokenError && err.code === 'invalid_token')
        throw new AppError(
          401,
          'authentication_error',
          'invalid_token',
          `caller token rejected: ${err.description}`,
          {
            'WWW-Authenticate': challenge(
              this.service,
              `error="invalid_token", error_description="${err.description}"`,
            ),
          },
        );
      throw new AppError(
        503,
        'api_error',
        'issuer_unavailable',
        "caller tokens cannot be checked now: the issuer's key set is unreachable; retry later",
        { 'Retry-After': '5' },
      );
    }
  }

  private forbidden(code: string, message: string, route: CallerRoute): AppError {
    return new AppError(403, 'permission_error', code, message, {
      'WWW-Authenticate': challenge(
        this.service,
        `error="insufficient_scope", scope="${route.scope}"`,
      ),
    });
  }
}

/** The token of an `Authorization: Bearer` header (RFC 6750 §2.1), or a 401 with a challenge. */
function bearerToken(header: unknown, service: string): string {
  if (typeof header !== 'string' || !/^bearer( |$)/i.test(header))
    throw new AppError(
      401,
      'authentication_error',
      'missing_token',
      'a caller token is required: Authorization: Bearer <token>',
      { 'WWW-Authenticate': challenge(service) },
    );
  const match = /^bearer +([A-Za-z0-9._~+/-]+=*) *$/i.exec(header);
  if (!match)
    throw new AppError(
      401,
      'authentication_error',
      'invalid_token',
      'caller token rejected: malformed Authorization header',
      {
        'WWW-Authenticate': challenge(
          service,
          'error="invalid_token", error_description="malformed Authorization header"',
        ),
      },
    );
  return match[1];
}
