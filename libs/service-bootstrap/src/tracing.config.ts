import { z } from 'zod';
import { loadConfig, setting } from './config';

/**
 * Tracing is off unless an OTLP endpoint is configured (the OpenTelemetry variables, so a
 * collector's usual settings work unchanged). `OTEL_TRACES_EXPORTER=otlp` alone exports to
 * the spec's default, http://localhost:4318; `none` turns it off whatever else is set.
 */
const tracingSettings = {
  OTEL_EXPORTER_OTLP_ENDPOINT: setting.url().optional(),
  OTEL_TRACES_EXPORTER: z.enum(['otlp', 'none']).optional(),
  /** How long finished spans wait to be sent in one batch (ms). */
  OTEL_BSP_SCHEDULE_DELAY: setting.positiveInt(5000),
};

/** The variables readTracingConfig reads. */
export const TRACING_SETTING_NAMES: readonly string[] = Object.keys(tracingSettings);

export interface TracingConfig {
  /** Where spans go (`<endpoint>/v1/traces`, OTLP/HTTP JSON); undefined: tracing off. */
  tracesUrl?: string;
  batchDelayMs: number;
}

export function readTracingConfig(
  service: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): TracingConfig {
  const c = loadConfig(service, tracingSettings, env);
  const on =
    c.OTEL_TRACES_EXPORTER === 'otlp' ||
    (c.OTEL_TRACES_EXPORTER === undefined && c.OTEL_EXPORTER_OTLP_ENDPOINT !== undefined);
  const endpoint = (c.OTEL_EXPORTER_OTLP_ENDPOINT ?? 'http://localhost:4318').replace(/\/+$/, '');
  return {
    tracesUrl: on ? `${endpoint}/v1/traces` : undefined,
    batchDelayMs: c.OTEL_BSP_SCHEDULE_DELAY,
  };
}
