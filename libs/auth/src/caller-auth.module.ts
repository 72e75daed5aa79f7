import { type DynamicModule, Inject, Module, type OnModuleInit } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule, DiscoveryService, MetadataScanner } from '@nestjs/core';
import type { Logger } from 'pino';
import { isPublicRoute, routeKey, routesOf, type ServiceName } from '@lpi/access-matrix';
import type { CallerAuthOptions } from './caller-auth.config';
import { CALLER_AUTH_SERVICE, CallerAuthGuard, routeKeysOf } from './caller-auth.guard';
import { CallerTokenVerifier } from './caller-token.verifier';

/** The service's handlers and the access matrix disagree: the service refuses to start. */
export class RouteDeclarationError extends Error {
  readonly code = 'ROUTE_DECLARATION_MISMATCH';
  constructor(service: string, undeclared: string[], missing: string[]) {
    super(
      `${service}: its routes and the access matrix disagree` +
        (undeclared.length ? `; handlers not in the matrix: ${undeclared.join(', ')}` : '') +
        (missing.length ? `; matrix routes with no handler: ${missing.join(', ')}` : '') +
        ' (declare every route with its callers in libs/access-matrix)',
    );
    this.name = 'RouteDeclarationError';
  }
}

/**
 * Inbound caller authentication for one service: a global guard that lets a request through
 * only as its route's grant in the access matrix says (ADR 0014). At start-up every handler
 * is checked against the matrix, both ways.
 */
@Module({})
export class CallerAuthModule implements OnModuleInit {
  constructor(
    @Inject(CALLER_AUTH_SERVICE) private readonly service: ServiceName,
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
  ) {}

  static forService(
    service: ServiceName,
    options: CallerAuthOptions,
    logger?: Logger,
  ): DynamicModule {
    return {
      module: CallerAuthModule,
      imports: [DiscoveryModule],
      providers: [
        { provide: CALLER_AUTH_SERVICE, useValue: service },
        {
          provide: CallerTokenVerifier,
          useValue: new CallerTokenVerifier(service, options, logger),
        },
        { provide: APP_GUARD, useClass: CallerAuthGuard },
      ],
      exports: [CallerTokenVerifier],
    };
  }

  onModuleInit(): void {
    const served = new Set<string>();
    for (const wrapper of this.discovery.getControllers()) {
      const controller = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (!controller) continue;
      const proto = controller.prototype as Record<string, object>;
      for (const name of this.scanner.getAllMethodNames(proto))
        for (const key of routeKeysOf(controller, proto[name]) ?? []) served.add(key);
    }
    const declared = routesOf(this.service);
    const keys = new Set(declared.map(routeKey));
    const undeclared = [...served].filter((k) => !keys.has(k));
    const missing = declared
      .filter((r) => !isPublicRoute(r) && !served.has(routeKey(r)))
      .map(routeKey);
    if (undeclared.length || missing.length)
      throw new RouteDeclarationError(this.service, undeclared, missing);
  }
}
