import { randomUUID } from 'node:crypto';

interface RequestLike {
  id?: unknown;
  headers?: Record<string, unknown>;
}
interface ResponseLike {
  headersSent?: boolean;
  setHeader(name: string, value: string): unknown;
}

const ACCEPTED = /^[A-Za-z0-9._-]{1,64}$/;

/**
 * The request's id: the caller's `X-Request-Id` when it is a short token-safe string, else a
 * fresh one. Set once per request and echoed in the response header, so an error refused
 * before the logger's middleware ran (a body parser's 400) still carries a usable id.
 */
export function requestIdOf(req: RequestLike | undefined, res?: ResponseLike): string {
  if (typeof req?.id === 'string' && ACCEPTED.test(req.id)) return req.id;
  const incoming = req?.headers?.['x-request-id'];
  const id =
    typeof incoming === 'string' && ACCEPTED.test(incoming) ? incoming : `req_${randomUUID()}`;
  if (req) req.id = id;
  if (res && !res.headersSent) res.setHeader('x-request-id', id);
  return id;
}
