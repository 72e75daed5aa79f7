import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { requestIdOf } from './request-id';

/** An HTTP(S) server, as far as guarding its edge goes. */
type RequestServer = Pick<EventEmitter, 'listeners' | 'removeAllListeners' | 'on'>;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * An edge's own error body (JSON text) for a request refused before the edge's code runs, so
 * every refusal, even one Node's HTTP parser makes, arrives in the format its clients parse.
 */
export type RefusalBody = (status: number, message: string, requestId?: string) => string;

/**
 * Bounds what a listener reads, before any parser sees it (issue 16: an oversized token request
 * was refused and then read to the end anyway until the process died). A declared length over
 * the limit is refused unread; a chunked body is counted as it arrives and, at the limit, the
 * socket stops reading and the refusal is sent with `Connection: close`. Any answer sent before
 * its body was read to the end (every early 4xx) ends in a lingering close, never a drain.
 */
export function boundRequestBodies(
  server: RequestServer,
  limit: number,
  refusal: RefusalBody,
): void {
  const handlers = server.listeners('request') as Handler[];
  server.removeAllListeners('request');
  for (const handler of handlers) server.on('request', bounded(handler, limit, refusal));
  refuseMalformedRequests(server, refusal);
}

/**
 * What Node refuses before any handler runs, answered in the edge's format with a lingering
 * close (Node's own answers are bare and close at once, so a client still sending its body
 * often reads a reset instead): an `Expect` other than `100-continue` is a 417 (RFC 9110
 * §10.1.1); what the HTTP parser rejects (bad framing, an unknown method, oversized headers)
 * is a 400, or 431 for headers. Idempotent per server.
 */
export function refuseMalformedRequests(server: RequestServer, refusal: RefusalBody): void {
  if (server.listeners('checkExpectation').length > 0) return;
  server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
    closeLingeringIfUnread(req, res);
    refuse(res, 417, refusal(417, 'only "Expect: 100-continue" is supported'));
  });
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (err.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
      socket.destroy();
      return;
    }
    const [status, message] = PARSER_REFUSALS[err.code ?? ''] ?? PARSER_REFUSALS.default;
    socket.write(rawResponse(status, refusal(status, message)));
    linger(socket);
  });
}

const PARSER_REFUSALS: Record<string, [number, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'request headers are too large'],
  HPE_INVALID_METHOD: [400, 'request method is not supported'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'request was not received in time'],
  default: [400, 'request is not valid HTTP/1.1'],
};

function rawResponse(status: number, body: string): string {
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n` +
    'Content-Type: application/json; charset=utf-8\r\nCache-Control: no-store\r\n' +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}

function refuse(res: ServerResponse, status: number, body: string): void {
  if (res.headersSent) return;
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Connection', 'close');
  res.end(body);
}

function bounded(handler: Handler, limit: number, refusal: RefusalBody): Handler {
  return (req, res) => {
    closeLingeringIfUnread(req, res);
    const tooLarge = () => {
      req.socket.pause();
      // the id in the body is the one the X-Request-Id header carries, as on every other answer
      const requestId = requestIdOf(req as IncomingMessage & { id?: unknown }, res);
      refuse(res, 413, refusal(413, `request body is larger than ${limit} bytes`, requestId));
    };
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > limit) return tooLarge();
    let seen = 0;
    // The HTTP parser hands body bytes to `req.push`: counting there sees every byte before any
    // reader (body-parser, oidc-provider, our own) buffers it, without taking the stream over.
    const push = req.push.bind(req);
    req.push = (chunk: unknown, encoding?: BufferEncoding) => {
      if (chunk !== null && chunk !== undefined) {
        seen += (chunk as Buffer).length;
        if (seen > limit) {
          req.push = () => false;
          tooLarge();
          return false;
        }
      }
      return push(chunk, encoding);
    };
    handler(req, res);
  };
}

/** How long a connection lingers, unread, after an early answer before it is destroyed. */
export const LINGER_MS = 500;

/**
 * When an answer goes out before its request body was read to the end (a 413, a 404 to a POST,
 * a GET that carried a body), closing at once makes the kernel answer the client's next bytes
 * with a reset, and a reset can destroy the answer before the client reads it: the client sees
 * "connection closed", not the 4xx. Node closes that way, and without `Connection: close` it
 * drains the rest of the body instead, however large. Like Go's net/http (which Vault's
 * listener uses), this stops reading, shuts the write side after the answer, and destroys the
 * socket `LINGER_MS` later: the client has read its answer by then, and no more of the body is
 * ever read.
 */
export function closeLingeringIfUnread(req: IncomingMessage, res: ServerResponse): void {
  const socket = req.socket as Socket & { destroySoon?: () => void };
  const destroySoon = socket.destroySoon?.bind(socket);
  // the answer tells the client not to reuse a connection that will close under it
  const writeHead = res.writeHead;
  res.writeHead = function (this: ServerResponse, ...args: Parameters<typeof writeHead>) {
    if (!req.complete && !this.headersSent) this.setHeader('Connection', 'close');
    return writeHead.apply(this, args);
  } as typeof writeHead;
  // node calls this after an answer marked `Connection: close`
  socket.destroySoon = () => (req.complete ? destroySoon?.() : linger(socket));
  res.once('finish', () => {
    if (!req.complete) linger(socket);
    else if (destroySoon) socket.destroySoon = destroySoon;
  });
}

const lingering = new WeakSet<Socket>();

function linger(socket: Socket): void {
  if (lingering.has(socket) || socket.destroyed) return;
  lingering.add(socket);
  socket.on('error', () => undefined); // the client may reset mid-upload: nothing to do
  socket.pause();
  // node resumes the socket to drain an unread body (`req._dump()`); it stays unread instead
  socket.resume = () => socket;
  socket.end();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

const ENVELOPE_CODES: Record<number, string> = {
  400: 'malformed_request',
  408: 'request_timeout',
  413: 'payload_too_large',
  417: 'expectation_failed',
  431: 'headers_too_large',
};

/** The error envelope, for refusals made before Nest sees the request. */
export const envelopeRefusal: RefusalBody = (status, message, requestId) =>
  JSON.stringify({
    error: {
      type: 'invalid_request_error',
      code: ENVELOPE_CODES[status] ?? 'malformed_request',
      message,
      request_id: requestId ?? `req_${randomUUID()}`,
    },
  });
