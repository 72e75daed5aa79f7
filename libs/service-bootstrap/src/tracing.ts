import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type AttributeValue,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
} from '@opentelemetry/api';
import type { OnApplicationShutdown } from '@nestjs/common';
import type { TracingConfig } from './tracing.config';

/**
 * The service's trace pipeline (ADR 0023). Off, the OpenTelemetry API stays a no-op: spans
 * the libraries start cost next to nothing and nothing is sent. On, spans are batched and
 * exported over OTLP/HTTP (JSON) with `service.name` = the service; the context travels
 * through async calls (AsyncLocalStorage) and crosses processes as W3C `traceparent` only
 * (no baggage: nothing but ids leaves the process).
 */
export class ServiceTracing implements OnApplicationShutdown {
  private readonly provider?: { shutdown(): Promise<void> };

  constructor(service: string, config: TracingConfig) {
    if (!config.tracesUrl) return;
    // required here, not imported: with tracing off the SDK and exporter are never loaded,
    // which keeps their code out of an idle service's memory (ADR 0033)
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sdk = require('./tracing-sdk') as typeof import('./tracing-sdk');
    this.provider = sdk.startTraceExport(service, config.tracesUrl, config.batchDelayMs);
  }

  get enabled(): boolean {
    return this.provider !== undefined;
  }

  /** Last step of shutdown: the spans still in the batch are sent. */
  async onApplicationShutdown(): Promise<void> {
    await this.provider?.shutdown();
  }
}

type TracedRequest = IncomingMessage & { id?: unknown; route?: { path?: unknown } };

/**
 * One server span per HTTP request (health probes excepted), child of the caller's
 * `traceparent` when it sends one. Named by method and route template, never the raw path
 * (ids stay out of span names); the request id is an attribute, so a trace and the
 * request's log lines find each other.
 */
export function traceHttpRequests() {
  const tracer = trace.getTracer('lpi.http');
  return (req: TracedRequest, res: ServerResponse, next: () => void): void => {
    if ((req.url ?? '').startsWith('/health')) return next();
    const parent = propagation.extract(context.active(), req.headers);
    const span = tracer.startSpan(
      req.method ?? 'HTTP',
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? '' } },
      parent,
    );
    const active = trace.setSpan(parent, span);
    res.once('close', () => {
      const route = typeof req.route?.path === 'string' ? req.route.path : undefined;
      if (route) span.updateName(`${req.method} ${route}`).setAttribute('http.route', route);
      span.setAttribute('http.response.status_code', res.statusCode);
      if (typeof req.id === 'string') span.setAttribute('request.id', req.id);
      if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    // body parsers continue from stream events: bind them to the request's context too
    context.bind(active, req);
    context.bind(active, res);
    context.with(active, next);
  };
}

/**
 * Business ids on the current span (e.g. the provider's object id, which a payment's trace
 * and the provider's webhook about it both carry). Never a secret: these are exported.
 */
export function tagActiveSpan(attributes: Record<string, AttributeValue>): void {
  trace.getActiveSpan()?.setAttributes(attributes);
}
