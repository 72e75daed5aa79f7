import { randomUUID } from 'node:crypto';
import type { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An HTTP(S) server, as far as bounding its request bodies goes. */
type RequestServer = Pick<EventEmitter, 'listeners' | 'removeAllListeners' | 'on'>;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
export type Refusal = (res: ServerResponse, status: 413, message: string) => void;

/**
 * Bounds what a listener reads, before any parser sees it (issue 16: an oversized token request
 * was refused and then read to the end anyway until the process died). A declared length over
 * the limit is refused unread; a chunked body is counted as it arrives and, at the limit, the
 * socket stops reading, the refusal is sent with `Connection: close`, and the socket is closed.
 * A response sent before the body was read (any early 4xx) also closes the connection instead
 * of draining the rest of the body.
 */
export function boundRequestBodies(server: RequestServer, limit: number, refuse: Refusal): void {
  const handlers = server.listeners('request') as Handler[];
  server.removeAllListeners('request');
  for (const handler of handlers) server.on('request', bounded(handler, limit, refuse));
}

function bounded(handler: Handler, limit: number, refuse: Refusal): Handler {
  return (req, res) => {
    const tooLarge = () => {
      req.socket.pause();
      if (!res.headersSent) {
        res.setHeader('Connection', 'close');
        refuse(res, 413, `request body is larger than ${limit} bytes`);
      }
    };
    res.once('finish', () => {
      if (!req.complete) req.socket.destroy();
    });
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

/** The error envelope, for refusals made before Nest sees the request. */
export function envelopeRefusal(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.end(
    JSON.stringify({
      error: {
        type: 'invalid_request_error',
        code: 'payload_too_large',
        message,
        request_id: `req_${randomUUID()}`,
      },
    }),
  );
}
