import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  HttpException,
  Logger,
} from '@nestjs/common';
import { z, type ZodType } from 'zod';
import { scrubSecrets } from './redaction';
import { requestIdOf } from './request-id';

/** The one error body every HTTP endpoint in the project returns (and its API description shows). */
export const errorEnvelopeSchema = z.strictObject({
  error: z.strictObject({
    type: z.string().meta({
      description:
        'class of error: invalid_request_error, authentication_error, permission_error, not_found_error, conflict_error, api_error',
    }),
    code: z
      .string()
      .meta({ description: 'stable machine-readable code, e.g. idempotency_key_reused' }),
    message: z.string().meta({ description: 'what failed and what to do; never quotes a secret' }),
    request_id: z.string().meta({ description: 'the X-Request-Id of the request' }),
  }),
});
export type ErrorEnvelope = z.infer<typeof errorEnvelopeSchema>;

/** An error with a stable code, mapped to an HTTP status only at the edge. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string) =>
  new AppError(400, 'invalid_request_error', code, message);

/** Parses input with zod; failure is a 400 naming the offending fields (not their values). */
export function parseInput<T>(schema: ZodType<T>, input: unknown, what = 'request body'): T {
  const res = schema.safeParse(input);
  if (res.success) return res.data;
  const detail = res.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.') || what}: ${i.message}`)
    .join('; ');
  throw badRequest('invalid_parameters', `invalid ${what}: ${detail}`);
}

interface HttpRequestLike {
  id?: unknown;
  headers?: Record<string, unknown>;
}
interface HttpResponseLike {
  headersSent?: boolean;
  status(code: number): HttpResponseLike;
  setHeader(name: string, value: string): void;
  json(body: unknown): void;
}

const TYPE_BY_STATUS: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  405: 'invalid_request_error',
  409: 'conflict_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
};

const FRAMEWORK_MESSAGES: Record<number, string> = {
  400: 'request is malformed',
  404: 'no route matches this method and path',
  405: 'method not allowed on this path',
  413: 'request body too large',
  415: 'unsupported media type',
};

const BODY_ERRORS: Record<string, [code: string, message: string]> = {
  'entity.too.large': ['payload_too_large', 'request body too large'],
  'entity.too.deep': ['json_too_deep', 'request body nests too deeply'],
  'entity.parse.failed': ['malformed_request', 'request body is not valid JSON'],
  'charset.unsupported': ['unsupported_charset', 'request body charset is not supported'],
  'encoding.unsupported': ['unsupported_encoding', 'request body encoding is not supported'],
};

@Catch()
export class ErrorEnvelopeFilter implements ExceptionFilter {
  private readonly logger = new Logger('ErrorEnvelope');

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<HttpRequestLike>();
    const res = http.getResponse<HttpResponseLike>();
    const requestId = requestIdOf(req, res);
    const { status, body, headers } = toEnvelope(exception, requestId);
    if (status >= 500) {
      this.logger.error({ err: exception, request_id: requestId }, 'unhandled error');
    }
    if (!res || res.headersSent) return;
    for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
    res.status(status).json(body);
  }
}

export function toEnvelope(
  exception: unknown,
  requestId: string,
): { status: number; body: ErrorEnvelope; headers: Record<string, string> } {
  if (exception instanceof AppError) {
    return {
      status: exception.status,
      headers: exception.headers,
      body: {
        error: {
          type: exception.type,
          code: exception.code,
          message: scrubSecrets(exception.message),
          request_id: requestId,
        },
      },
    };
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code =
      status === 404
        ? 'not_found'
        : status === 413
          ? 'payload_too_large'
          : status === 400
            ? 'malformed_request'
            : `http_${status}`;
    return {
      status,
      headers: {},
      body: {
        error: {
          type: TYPE_BY_STATUS[status] ?? (status >= 500 ? 'api_error' : 'invalid_request_error'),
          code,
          // only the framework throws these (our code throws AppError), and its messages quote
          // the request: the path ("Cannot GET /…"), a body fragment, a bad percent-escape
          message:
            FRAMEWORK_MESSAGES[status] ?? (status >= 500 ? 'internal error' : 'request refused'),
          request_id: requestId,
        },
      },
    };
  }
  // body-parser errors (malformed JSON, too large, too deep) carry a status but are not
  // HttpExceptions; their message is never echoed (it can quote the body)
  const maybe = exception as { status?: unknown; type?: unknown };
  if (typeof maybe?.status === 'number' && maybe.status >= 400 && maybe.status < 500) {
    const [code, message] =
      BODY_ERRORS[String(maybe.type)] ??
      (maybe.status === 413
        ? BODY_ERRORS['entity.too.large']
        : ['malformed_request', 'request body is not valid JSON']);
    return {
      status: maybe.status,
      headers: {},
      body: { error: { type: 'invalid_request_error', code, message, request_id: requestId } },
    };
  }
  return {
    status: 500,
    headers: {},
    body: {
      error: {
        type: 'api_error',
        code: 'internal_error',
        message: 'internal error',
        request_id: requestId,
      },
    },
  };
}
