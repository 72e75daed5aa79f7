import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

/** The OpenTelemetry SDK side of `ServiceTracing`: only loaded when traces are exported. */
export function startTraceExport(
  service: string,
  tracesUrl: string,
  batchDelayMs: number,
): { shutdown(): Promise<void> } {
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: service }),
    spanProcessors: [
      new BatchSpanProcessor(new OTLPTraceExporter({ url: tracesUrl }), {
        scheduledDelayMillis: batchDelayMs,
      }),
    ],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  return provider;
}
