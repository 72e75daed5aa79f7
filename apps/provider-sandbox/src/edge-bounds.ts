import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RefusalBody } from '@lpi/service-bootstrap';
export { boundRequestBodies } from '@lpi/service-bootstrap';

/** Token requests, payments and registrations are small: nothing on either listener needs more. */
export const MAX_BODY_BYTES = 64 * 1024;
/** Deeper JSON is never a valid request here, and deep nesting costs stack in every walker. */
export const MAX_JSON_DEPTH = 32;

/** Depth of a parsed JSON value, iteratively (a recursive walk is what deep nesting attacks). */
export function jsonDepth(value: unknown, max: number): number {
  let depth = 0;
  let level: unknown[] = [value];
  for (;;) {
    const containers = level.filter((v): v is object => v !== null && typeof v === 'object');
    if (containers.length === 0 || depth > max) return depth;
    depth += 1;
    level = containers.flatMap((c) => Object.values(c));
  }
}

/** RFC 6749 §5.2 error body, for refusals made before oidc-provider sees the request. */
export const oauthRefusal: RefusalBody = (_status, message) =>
  JSON.stringify({ error: 'invalid_request', error_description: message });

/** Express middleware (after the body parsers): too deeply nested JSON is a 400, never a walk. */
export function refuseDeepJson(
  req: IncomingMessage & { body?: unknown; id?: unknown },
  res: ServerResponse,
  next: () => void,
): void {
  if (jsonDepth(req.body, MAX_JSON_DEPTH) <= MAX_JSON_DEPTH) return next();
  res.statusCode = 400;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(
    JSON.stringify({
      error: {
        type: 'invalid_request_error',
        code: 'too_deeply_nested',
        message: `request body nests deeper than ${MAX_JSON_DEPTH} levels`,
        request_id: String(req.id ?? `req_${randomUUID()}`),
      },
    }),
  );
}
