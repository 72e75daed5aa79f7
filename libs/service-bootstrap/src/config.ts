import { z } from 'zod';

/** Start-up refused because a setting is missing or invalid. Names the setting, never its value. */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(
    readonly service: string,
    readonly problems: readonly { setting: string; problem: string }[],
  ) {
    super(
      `${service}: invalid configuration, refusing to start:\n` +
        problems.map((p) => `  - ${p.setting}: ${p.problem}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

/**
 * Validates an environment against a zod object whose keys are the variable names.
 * Every problem is reported at once; values are never echoed (they may be secrets).
 */
export function loadConfig<S extends z.ZodRawShape>(
  service: string,
  shape: S,
  env: Readonly<Record<string, string | undefined>>,
): z.infer<z.ZodObject<S>> {
  const result = z.object(shape).safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => ({
    setting: issue.path.join('.') || '(root)',
    problem:
      issue.code === 'invalid_type' && issue.input === undefined
        ? 'is required but not set'
        : issue.message,
  }));
  throw new ConfigError(service, problems);
}

const portSchema = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a TCP port number')
  .transform(Number)
  .refine((n) => n > 0 && n < 65536, 'must be between 1 and 65535');
const intSchema = z
  .string()
  .regex(/^[1-9]\d*$/, 'must be a positive integer')
  .transform(Number);

const hostPortSchema = z
  .string()
  .regex(/^[A-Za-z0-9.-]+:\d{1,5}$/)
  .transform((n) => {
    const at = n.lastIndexOf(':');
    return { host: n.slice(0, at), port: Number(n.slice(at + 1)) };
  })
  .refine((n) => n.port > 0 && n.port < 65536);
/** `host:port,host:port`: seed nodes of a Redis Cluster (any few; the rest is discovered). */
const nodeListSchema = z.string().transform((v, ctx) => {
  const nodes = v.split(',').map((n) => hostPortSchema.safeParse(n.trim()));
  if (v.trim() === '' || nodes.some((n) => !n.success)) {
    ctx.addIssue({ code: 'custom', message: 'must be host:port[,host:port...]' });
    return z.NEVER;
  }
  return nodes.map((n) => n.data as { host: string; port: number });
});

/** Reusable setting parsers (environment values are strings; defaults are final values). */
export const setting = {
  port: (fallback?: number) => (fallback === undefined ? portSchema : portSchema.default(fallback)),
  positiveInt: (fallback?: number) =>
    fallback === undefined ? intSchema : intSchema.default(fallback),
  url: () => z.url({ message: 'must be an absolute URL' }),
  logLevel: () =>
    z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  nonEmpty: () => z.string().min(1, 'must not be empty'),
  file: () => z.string().min(1, 'must be a file path'),
  hostPortList: () => nodeListSchema,
  bool: (fallback = false) =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1')
      .default(fallback),
};

/**
 * Prefixes of the variables this project's services read. A variable with one of them that
 * no schema of the service reads is a typo or drift between a manifest and the code (a
 * setting someone believes is in force and is not), so start-up refuses it by name.
 */
export const SETTING_PREFIXES = [
  'VAULT_',
  'PROVIDER_',
  'REDIS_',
  'QUEUE_',
  'JOB_',
  'WEBHOOK_',
  'CALLER_',
  'SHUTDOWN_',
  'DATABASE_',
] as const;

export function refuseUnknownSettings(
  service: string,
  known: Iterable<string>,
  env: Readonly<Record<string, string | undefined>>,
  prefixes: readonly string[] = SETTING_PREFIXES,
): void {
  const read = new Set(known);
  const unknown = Object.keys(env)
    .filter((name) => prefixes.some((p) => name.startsWith(p)) && !read.has(name))
    .sort();
  if (unknown.length > 0)
    throw new ConfigError(
      service,
      unknown.map((setting) => ({
        setting,
        problem: 'is not a setting of this service: a typo, or a setting no code reads',
      })),
    );
}
