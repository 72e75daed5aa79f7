import { readTracingConfig } from './tracing.config';

const read = (env: Record<string, string>) => readTracingConfig('payment-service', env);

describe('tracing settings', () => {
  it('are off by default', () => {
    expect(read({}).tracesUrl).toBeUndefined();
  });

  it('export to <endpoint>/v1/traces once an OTLP endpoint is set', () => {
    expect(read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' })).toEqual({
      tracesUrl: 'http://collector:4318/v1/traces',
      batchDelayMs: 5000,
    });
  });

  it("take OTEL_TRACES_EXPORTER=otlp alone to the spec's default endpoint, and none as off", () => {
    expect(read({ OTEL_TRACES_EXPORTER: 'otlp' }).tracesUrl).toBe(
      'http://localhost:4318/v1/traces',
    );
    expect(
      read({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })
        .tracesUrl,
    ).toBeUndefined();
  });

  it('refuse a malformed value by name', () => {
    expect(() => read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector' })).toThrow(
      /OTEL_EXPORTER_OTLP_ENDPOINT: must be an absolute URL/,
    );
    expect(() => read({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER/);
  });
});
