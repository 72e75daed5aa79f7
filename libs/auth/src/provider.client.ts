import { Agent as HttpsAgent } from 'node:https';
import { HttpService } from '@nestjs/axios';
import axios, { type AxiosResponse } from 'axios';
import { AuthError, RateLimitedError } from './errors';
import type { TokenManager } from './token-manager';

export interface ProviderRequest {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  body?: unknown;
  query?: Record<string, string>;
  /** Required for writes; kept identical on the retry after a 401. */
  idempotencyKey?: string;
  timeoutMs?: number;
}

export interface ProviderResponse<T> {
  status: number;
  data: T;
  headers: Record<string, string>;
}

/** Wait before retrying a 429: Retry-After (seconds or HTTP date), else X-RateLimit-Reset. */
export function retryAfterMs(headers: Record<string, unknown>, now = Date.now()): number {
  const retryAfter = headers['retry-after'];
  if (typeof retryAfter === 'string') {
    if (/^\d+$/.test(retryAfter)) return Number(retryAfter) * 1000;
    const at = Date.parse(retryAfter);
    if (!Number.isNaN(at)) return Math.max(0, at - now);
  }
  const reset = headers['x-ratelimit-reset'];
  if (typeof reset === 'string' && /^\d+$/.test(reset)) {
    const n = Number(reset);
    // epoch seconds or seconds from now, whichever it plausibly is
    return n > 1_000_000_000 ? Math.max(0, n * 1000 - now) : n * 1000;
  }
  return 1000;
}

/**
 * Calls the provider's API (through @nestjs/axios's HttpService over an axios instance that
 * carries the client certificate) with the named client's token over mTLS. A 401 drops that exact
 * token, fetches a new one and retries once (same Idempotency-Key); a 429 throws
 * RateLimitedError with the wait. Errors carry status and code only, never headers.
 */
export class ProviderClient {
  private http?: { cert?: string; instance: HttpService };
  private fixed?: string;

  constructor(
    private readonly tokens: TokenManager,
    private readonly clientName: string,
    private readonly baseUrl: string,
    /**
     * `fixedToken`: the benchmark baseline. The first token is kept and sent as a fixed
     * header, with no cache lookup, until the provider refuses it.
     */
    private readonly options: { fixedToken?: boolean } = {},
  ) {}

  private async token(): Promise<string> {
    if (this.fixed) return this.fixed;
    const { value } = await this.tokens.getToken(this.clientName);
    if (this.options.fixedToken) this.fixed = value;
    return value;
  }

  async request<T = unknown>(req: ProviderRequest): Promise<ProviderResponse<T>> {
    let token = await this.token();
    let res = await this.send<T>(req, token);
    if (res.status === 401) {
      this.fixed = undefined;
      this.tokens.invalidate(this.clientName, token);
      token = await this.token();
      res = await this.send<T>(req, token);
      if (res.status === 401)
        throw new AuthError(
          'PROVIDER_UNAUTHORIZED',
          `${req.method} ${req.path} answered 401 twice`,
          { status: 401 },
        );
    }
    if (res.status === 429) throw new RateLimitedError(retryAfterMs(res.headers));
    if (res.status === 403)
      throw new AuthError('PROVIDER_FORBIDDEN', `${req.method} ${req.path} answered 403`, {
        status: 403,
        oauthError: errorCode(res.data),
      });
    return { status: res.status, data: res.data, headers: res.headers as Record<string, string> };
  }

  private client(): HttpService {
    const tls = this.tokens.tlsOptions(this.clientName);
    if (!this.http || this.http.cert !== tls.cert) {
      // a rotated certificate gets a fresh agent: the token is bound to the certificate
      this.http = {
        cert: tls.cert,
        instance: new HttpService(
          axios.create({
            baseURL: this.baseUrl,
            httpsAgent: new HttpsAgent({
              ca: tls.ca,
              cert: tls.cert,
              key: tls.key,
              keepAlive: true,
            }),
            validateStatus: () => true,
            maxRedirects: 0,
          }),
        ),
      };
    }
    return this.http.instance;
  }

  private async send<T>(req: ProviderRequest, token: string): Promise<AxiosResponse<T>> {
    const answered = (status: string) =>
      this.tokens.metrics.providerResponses.inc({ client: this.clientName, status });
    try {
      // axiosRef, not the Observable API: HttpService's unsubscribe aborts the finished
      // request, which built a CanceledError (with a stack trace) for every call
      const res = await this.client().axiosRef.request<T>({
        method: req.method,
        url: req.path,
        params: req.query,
        data: req.body,
        timeout: req.timeoutMs ?? 10_000,
        headers: {
          authorization: `Bearer ${token}`,
          ...(req.idempotencyKey ? { 'idempotency-key': req.idempotencyKey } : {}),
        },
      });
      answered(String(res.status));
      return res;
    } catch (err) {
      answered('error');
      // axios errors carry the request config, headers included: never let them escape
      const code = (err as { code?: string }).code ?? 'ERR_NETWORK';
      throw new AuthError(
        'PROVIDER_REQUEST_FAILED',
        `${req.method} ${req.path} failed before a response (${code})`,
      );
    }
  }
}

function errorCode(data: unknown): string | undefined {
  const e = (data as { error?: { code?: unknown } })?.error;
  return typeof e?.code === 'string' ? e.code : undefined;
}
