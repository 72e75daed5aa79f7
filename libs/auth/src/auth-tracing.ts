import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';

// Explicit spans where a job's time goes at the provider (ADR 0023): fetching a token (none
// on a cache hit) and each HTTP call to the provider's API. Attributes carry the client's
// name, the method and the path, never a header, token or body.

const tracer = () => trace.getTracer('lpi.auth');

async function inSpan<T>(span: Span, run: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await run(span);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: typeof code === 'string' ? code : (err as Error)?.name,
    });
    throw err;
  } finally {
    span.end();
  }
}

/** A token request to the authorization server (with its retries), as one client span. */
export function withTokenFetchSpan<T>(
  client: string,
  kind: string,
  fetch: () => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(
    'oauth token fetch',
    { kind: SpanKind.CLIENT, attributes: { 'oauth.client': client, 'oauth.renewal': kind } },
    (span) => inSpan(span, fetch),
  );
}

/** One HTTP call to the provider's API, as a client span with its response status. */
export function withProviderCallSpan<T extends { status: number }>(
  method: string,
  path: string,
  send: () => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(
    `provider ${method}`,
    {
      kind: SpanKind.CLIENT,
      attributes: { 'http.request.method': method, 'url.path': path },
    },
    (span) =>
      inSpan(span, async () => {
        const res = await send();
        span.setAttribute('http.response.status_code', res.status);
        if (res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
        return res;
      }),
  );
}
