import { request } from 'node:https';

export interface HttpsCall {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  ca: string;
  /** Client certificate for mTLS (omit to connect without one). */
  cert?: string;
  key?: string;
}

export interface HttpsResult<T = unknown> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: T;
}

/** One HTTPS request with an explicit trust anchor and optional client certificate. */
export function httpsCall<T = unknown>(url: string, call: HttpsCall): Promise<HttpsResult<T>> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: call.method ?? 'GET',
        headers: call.headers,
        ca: call.ca,
        cert: call.cert,
        key: call.key,
        agent: false,
        timeout: 15_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: json as T });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on('error', reject);
    if (call.body !== undefined) req.write(call.body);
    req.end();
  });
}
