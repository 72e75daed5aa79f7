import type { IncomingMessage } from 'node:http';
import { badRequest, VaultError } from './backend';

/** Vault's DefaultMaxRequestSize (a listener's `max_request_size`) */
export const MAX_REQUEST_BYTES = 32 * 1024 * 1024;
/** deeper JSON is refused before parsing (Go's encoding/json stops at 10000; this is enough) */
export const MAX_JSON_DEPTH = 512;

/** 413: answered without reading the rest of the body; the connection is then closed. */
export class RequestTooLarge extends VaultError {
  constructor() {
    super(413, ['http: request body too large']);
  }
}

/**
 * Reads at most `max` bytes: a larger declared or streamed body stops the read (the stream
 * is paused, not destroyed, so the 413 can still be written on its socket).
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) return Promise.reject(new RequestTooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err?: Error) => {
      req.off('data', onData).off('end', onEnd).off('error', onError);
      if (err) reject(err);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.pause();
        done(new RequestTooLarge());
      } else chunks.push(c);
    };
    const onEnd = () => done();
    const onError = () => done(badRequest('error reading the request body'));
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}

/** Nesting depth outside strings, counted without parsing. */
function depthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > limit) return true;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return false;
}

/**
 * The JSON body of a request, `{}` when empty or `null` (http/logical.go parseJSONRequest
 * decodes into a map: an array, string or number is "error parsing JSON").
 */
export async function readJson(
  req: IncomingMessage,
  max = MAX_REQUEST_BYTES,
): Promise<Record<string, unknown>> {
  const text = (await readBody(req, max)).toString('utf8').trim();
  if (!text) return {};
  if (depthExceeds(text, MAX_JSON_DEPTH)) throw badRequest('error parsing JSON');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw badRequest('error parsing JSON');
  }
  if (parsed === null) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) throw badRequest('error parsing JSON');
  return parsed as Record<string, unknown>;
}

/** The logical path: `/v1/` stripped and percent-decoded; a bad escape is a 400, as in Go. */
export function logicalPath(pathname: string): string {
  const raw = pathname.slice(4);
  try {
    return decodeURIComponent(raw);
  } catch {
    const bad = /%(?![0-9a-fA-F]{2}).{0,2}/.exec(raw)?.[0] ?? '%';
    throw badRequest(`invalid URL escape ${JSON.stringify(bad)}`);
  }
}
