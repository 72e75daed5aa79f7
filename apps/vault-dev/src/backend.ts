import type { IncomingMessage } from 'node:http';

/**
 * The seam Vault itself has: a mount is served by one backend, a table of routes
 * (`framework.Path`: pattern, operations, handler). The server core keeps the envelope,
 * authentication, the ACL and response wrapping.
 */
export type Op = 'create' | 'read' | 'update' | 'delete' | 'list';

export class VaultError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    /** a 404 that still carries an envelope (a soft-deleted KV version) */
    readonly body?: unknown,
  ) {
    super(errors.join('; '));
  }
}
export const denied = () => new VaultError(403, ['1 error occurred:\n\t* permission denied\n\n']);
export const invalidToken = () =>
  new VaultError(403, ['2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n']);
export const badRequest = (msg: string) => new VaultError(400, [msg]);
/** an error a backend returns (not an ErrorResponse): Vault's core answers 500, multierror-wrapped */
export const internalError = (msg: string) =>
  new VaultError(500, [`1 error occurred:\n\t* ${msg}\n\n`]);
export const notFound = () => new VaultError(404, []);
export const noHandler = (path: string) =>
  new VaultError(404, [`no handler for route "${path}". route entry not found.`]);

/** Vault's duration fields: integer seconds or a Go-style duration string. */
export const duration = (v: unknown, fallback: number): number => {
  if (v === undefined || v === null || v === '') return fallback;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.floor(v);
  const text = String(v).trim();
  if (/^\d+$/.test(text)) return Number(text);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(text))) {
    total += Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's'];
    consumed = re.lastIndex;
  }
  if (!text || consumed !== text.length) throw badRequest(`invalid duration "${text}"`);
  return Math.floor(total);
};

/** What a route handler sees of the calling token. */
export interface Caller {
  id: string;
  accessor: string;
  policies: string[];
  entityId: string;
  /** the token's display name: `approle`, `kubernetes-<ns>-<sa>`, `token`, `root` */
  displayName: string;
  root: boolean;
  /** whether the caller's ACL grants `capability` on `path` (root: always) */
  can(path: string, capability: string): boolean;
}

export interface RouteRequest {
  /** the full logical path, without `/v1/` */
  path: string;
  op: Op;
  /** the pattern's capture groups */
  params: string[];
  body: Record<string, unknown>;
  caller?: Caller;
  req: IncomingMessage;
}

/** A handler's answer: `null` is Vault's 204; `raw` bypasses the envelope (HTTPRawBody). */
export type Reply =
  | null
  | {
      data?: Record<string, unknown> | null;
      warnings?: string[];
      auth?: Record<string, unknown>;
      /** a secret's lease (logical.Secret): lease_id, lease_duration, renewable in the envelope */
      lease?: { id: string; duration: number; renewable: boolean };
      /** a status other than 200 that still carries the envelope (RespondWithStatusCode) */
      status?: number;
    }
  | { raw: unknown; status?: number; headers?: Record<string, string> };

export interface Route {
  /** matched against the path relative to the mount */
  pattern: RegExp;
  operations: Partial<Record<Op, (r: RouteRequest) => Reply | Promise<Reply>>>;
  /** Vault's PathsSpecial.Unauthenticated */
  unauthenticated?: boolean;
  /** Vault's PathsSpecial.Root: the ACL must also grant `sudo` */
  sudo?: boolean;
  /** the backend's existence check: a write to a missing entry needs `create` */
  exists?: (r: { params: string[] }) => boolean;
}

export interface Backend {
  /** `identity/`, `auth/approle/`, … */
  mount: string;
  /** `mount_type` in the envelope */
  type: string;
  routes: Route[];
  /** false while the mount is not enabled (an auth method before `sys/auth/<path>`) */
  enabled?(): boolean;
}

export function matchRoute(
  backend: Backend,
  path: string,
): { route: Route; params: string[] } | undefined {
  const rel = path.slice(backend.mount.length);
  for (const route of backend.routes) {
    const m = route.pattern.exec(rel);
    if (m) return { route, params: m.slice(1) };
  }
  return undefined;
}
