import { Controller, Get, Inject, Injectable, Res } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's one prom-client registry (injection token). Every module registers its
 * figures here; every series carries `service="<name>"`. Label values never carry ids,
 * tokens, secrets or raw paths.
 */
export const METRICS_REGISTRY = Symbol('METRICS_REGISTRY');

/** A registry labelled with the service, with Node's process figures (memory, CPU, event loop). */
export function createServiceRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What a request without a matched route is counted as: never the raw path (it may carry ids). */
export const UNMATCHED_ROUTE = 'unmatched';

type RoutedRequest = Request & { route?: { path?: unknown } };

/** A template that matches any path: the framework's not-found route (`/{*path}`). */
const CATCH_ALL = /^\/?(\{\*|\*|\(\.\*\))/;

/** The matched route template (`/payments/:id`), or `unmatched`. */
export function routeTemplateOf(req: RoutedRequest): string {
  const path = req.route?.path;
  if (typeof path !== 'string' || CATCH_ALL.test(path)) return UNMATCHED_ROUTE;
  return `${req.baseUrl ?? ''}${path}`;
}

/** HTTP requests by route template, method and status, and their latency. */
@Injectable()
export class HttpMetrics {
  private readonly requests: Counter<'route' | 'method' | 'status'>;
  private readonly duration: Histogram<'route' | 'method'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.requests = new Counter({
      name: 'lpi_http_requests_total',
      help: 'HTTP requests answered, by matched route template, method and status',
      labelNames: ['route', 'method', 'status'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'lpi_http_request_duration_seconds',
      help: 'time from the request reaching the app to the last byte of the answer',
      labelNames: ['route', 'method'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
  }

  /** Express middleware, installed first: counts every answer, refusals by the edge included. */
  readonly middleware = (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    res.once('finish', () => {
      const route = routeTemplateOf(req);
      const method = req.method;
      this.requests.inc({ route, method, status: String(res.statusCode) });
      this.duration.observe({ route, method }, Number(process.hrtime.bigint() - started) / 1e9);
    });
    next();
  };
}

/** `GET /metrics`: Prometheus text format, a public route (PUBLIC_ROUTES in the access matrix). */
@Controller('metrics')
export class MetricsController {
  constructor(@Inject(METRICS_REGISTRY) private readonly registry: Registry) {}

  @Get()
  async scrape(@Res() res: Response): Promise<void> {
    const body = await this.registry.metrics();
    // written as is: express's `send` would reorder the content type's parameters
    res.status(200);
    res.setHeader('Content-Type', this.registry.contentType);
    res.setHeader('Cache-Control', 'no-store');
    res.end(body);
  }
}
