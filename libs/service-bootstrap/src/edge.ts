import type { NestExpressApplication } from '@nestjs/platform-express';

export interface EdgeLimits {
  /** bytes */
  bodyLimit: number;
  maxJsonDepth: number;
}

/**
 * Whether a JSON text nests deeper than `max`, found by one pass over the bytes (strings
 * skipped) before anything parses or walks it: every later step that recurses over a
 * body (validation, the secret-shape scan, canonical comparison) then sees bounded depth.
 */
export function jsonDepthExceeds(bytes: Uint8Array, max: number): boolean {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (const b of bytes) {
    if (inString) {
      if (escaped) escaped = false;
      else if (b === 0x5c) escaped = true;
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      if (++depth > max) return true;
    } else if (b === 0x7d || b === 0x5d) depth -= 1;
  }
  return false;
}

/**
 * What every service edge bounds before it parses: body size (413 in the envelope, from the
 * declared length before a byte is read, else while reading) and JSON nesting (400).
 * Malformed percent-encoding in the path is a 400 in the envelope (the router's decode
 * error reaches the envelope filter).
 */
export function installEdgeGuards(app: NestExpressApplication, limits: EdgeLimits): void {
  // keep the exact bytes for signature checks (webhooks)
  const keepRaw = (req: { rawBody?: Buffer }, buf: Buffer) => {
    req.rawBody = buf;
  };
  app.useBodyParser('json', {
    limit: limits.bodyLimit,
    verify: (req: { rawBody?: Buffer }, _res: unknown, buf: Buffer) => {
      keepRaw(req, buf);
      // body-parser's own error shape (status + type), mapped by the envelope filter
      if (jsonDepthExceeds(buf, limits.maxJsonDepth))
        throw Object.assign(new Error(`request body nests deeper than ${limits.maxJsonDepth}`), {
          status: 400,
          type: 'entity.too.deep',
        });
    },
  });
  app.useBodyParser('urlencoded', {
    limit: limits.bodyLimit,
    extended: false,
    verify: (req: { rawBody?: Buffer }, _res: unknown, buf: Buffer) => keepRaw(req, buf),
  });
  app.use(unwrapParserErrors);
}

/**
 * Nest turns a body parser's SyntaxError into a BadRequestException carrying the parser's
 * message, which quotes the body ("Unexpected token … is not valid JSON"). Handing it on as a
 * plain error with body-parser's status and type lets the envelope filter answer with its
 * fixed message instead.
 */
function unwrapParserErrors(
  err: unknown,
  _req: unknown,
  _res: unknown,
  next: (e: unknown) => void,
) {
  const parser = err as { status?: unknown; type?: unknown };
  if (err instanceof SyntaxError && typeof parser.type === 'string') {
    next(
      Object.assign(new Error('request body is not valid JSON'), {
        status: parser.status,
        type: parser.type,
      }),
    );
  } else next(err);
}
