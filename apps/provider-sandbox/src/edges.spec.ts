import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import fc from 'fast-check';
import { httpsCall, startSandbox, type PemPair, type SandboxHandle } from '@lpi/testing';

// Issue 16 item 4: one unauthenticated request could kill the sandbox, and malformed input got
// 5xx. Every listener bounds what it reads before parsing, and answers in its own format.

jest.setTimeout(300_000);

let sb: SandboxHandle;
let secret: string;
let token: string;
let pair: PemPair;
const LIMIT = 64 * 1024;

type Edge = 'as' | 'api' | 'admin';
const url = (edge: Edge, path: string) =>
  edge === 'as' ? `${sb.issuer}${path}` : `${sb.apiBaseUrl}${path}`;

interface Reply {
  status: number;
  text: string;
  reset: boolean;
}

/** One raw request: `body` written in pieces (chunked unless a content-length is given). */
function send(
  target: string,
  method: string,
  headers: Record<string, string>,
  body: Buffer[] = [],
): Promise<Reply> {
  return new Promise((resolve) => {
    const req = request(target, {
      method,
      headers,
      ca: sb.caCert,
      cert: pair.cert,
      key: pair.key,
      agent: false,
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, reset: false }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, text, reset: true }));
    });
    req.on('error', () => resolve({ status: 0, text: '', reset: true }));
    for (const b of body) req.write(b);
    req.end();
  });
}

/** Asserts the edge's own error format for a 4xx. */
function expectEdgeFormat(edge: Edge, reply: Reply) {
  const json = JSON.parse(reply.text) as Record<string, unknown>;
  if (edge === 'as') {
    expect(json).toEqual(
      expect.objectContaining({ error: expect.any(String), error_description: expect.any(String) }),
    );
  } else {
    expect(json.error).toEqual({
      type: expect.any(String),
      code: expect.any(String),
      message: expect.any(String),
      request_id: expect.any(String),
    });
  }
}

const rssMiB = () => {
  const status = readFileSync(`/proc/${sb.pid()}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
};

async function alive() {
  const [as, api] = await Promise.all([
    httpsCall(`${sb.issuer}/.well-known/openid-configuration`, { ca: sb.caCert }),
    httpsCall(`${sb.apiBaseUrl}/health/ready`, { ca: sb.caCert }),
  ]);
  expect([as.status, api.status]).toEqual([200, 200]);
}

const basic = (raw: string) => `Basic ${Buffer.from(raw).toString('base64')}`;
const form = { 'content-type': 'application/x-www-form-urlencoded' };

beforeAll(async () => {
  sb = await startSandbox({ rateLimitPerMinute: 1_000_000 });
  pair = sb.pki.clients['payment-service'];
  secret = (
    await sb.admin.registerClient('payment-service', {
      scopes: ['payments:write', 'payments:read'],
      token_endpoint_auth_method: 'client_secret_basic',
    })
  ).client_secret!;
  const res = await httpsCall<{ access_token: string }>(sb.tokenEndpoint, {
    method: 'POST',
    ca: sb.caCert,
    cert: pair.cert,
    key: pair.key,
    headers: { ...form, authorization: basic(`payment-service:${secret}`) },
    body: 'grant_type=client_credentials&scope=payments:write%20payments:read',
  });
  token = res.json.access_token;
});
afterAll(async () => {
  await sb?.stop();
});

const targets: [Edge, string, string, Record<string, string>][] = [
  ['as', 'POST', '/token', form],
  ['api', 'POST', '/v1/payments', { 'content-type': 'application/json' }],
  ['admin', 'PUT', '/admin/faults', { 'content-type': 'application/json' }],
];
const auth = (edge: Edge): Record<string, string> =>
  edge === 'api'
    ? { authorization: `Bearer ${token}`, 'idempotency-key': `k-${Math.random()}` }
    : edge === 'admin'
      ? { authorization: `Bearer ${sb.adminToken}` }
      : {};

describe('oversized requests', () => {
  it.each(targets)(
    '%s: an endless chunked body is cut off at the limit and the connection closed',
    async (edge, method, path, headers) => {
      const chunk = Buffer.alloc(64 * 1024, 'a');
      const TOTAL = 64 * 1024 * 1024;
      let written = 0;
      let status: number | undefined;
      const closed = await new Promise<boolean>((resolve) => {
        const req = request(url(edge, path), {
          method,
          headers: { ...headers, ...auth(edge) },
          ca: sb.caCert,
          cert: pair.cert,
          key: pair.key,
          agent: false,
        });
        let done = false;
        const finish = (v: boolean) => {
          if (done) return;
          done = true;
          resolve(v);
        };
        req.on('error', () => finish(true));
        req.on('close', () => finish(true));
        req.on('response', (res) => {
          status = res.statusCode ?? 0;
          res.resume();
        });
        const pump = () => {
          while (!done && written < TOTAL) {
            written += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          if (written >= TOTAL) finish(false);
        };
        pump();
      });
      // the server stopped reading (kernel buffers hold a few MiB at most) and hung up
      expect({ closed, stoppedEarly: written < TOTAL / 2 }).toEqual({
        closed: true,
        stoppedEarly: true,
      });
      // if the refusal was read before the hang-up, it is the 413
      expect([undefined, 413]).toContain(status);
      await alive();
    },
  );

  it.each(targets)(
    '%s: a declared length over the limit is refused unread, in the edge format',
    async (edge, method, path, headers) => {
      const reply = await send(url(edge, path), method, {
        ...headers,
        ...auth(edge),
        'content-length': String(1024 * 1024 * 1024),
      });
      expect(reply.status).toBe(413);
      expectEdgeFormat(edge, reply);
      await alive();
    },
  );
});

describe('malformed input (property tests): no 5xx, the edge format, alive, bounded memory', () => {
  const badPercent = fc.constantFrom('%', '%z', '%zz', '%E0%A4%A', '%ff', '%C0%AF', '%%', '%u0041');
  const text = fc.string({ maxLength: 30 });
  const withBadPercent = fc
    .tuple(text, badPercent, text)
    .map(([a, p, b]) => `${a}${p}${b}`.replace(/[\r\n]/g, ''));
  const nested = fc
    .tuple(fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('[', '{"a":'))
    .map(([depth, open]) => open.repeat(depth) + '1' + (open === '[' ? ']' : '}').repeat(depth));
  const contentType = fc.constantFrom(
    'application/json',
    'application/json; charset=latin1',
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-16',
    'text/plain',
    'multipart/form-data; boundary=x',
    'application/xml',
    '',
  );
  const size = fc.integer({ min: LIMIT - 16, max: LIMIT * 3 });
  const body = fc.oneof(
    nested,
    withBadPercent,
    fc.json(),
    size.map((n) => 'a='.padEnd(n, 'x')),
    fc.constant('{"amount":'),
  );

  const checks = async (edge: Edge, reply: Reply, bodyBytes: number) => {
    if (reply.reset) {
      // only an oversized body may be cut off before its refusal is read
      expect(bodyBytes).toBeGreaterThan(LIMIT);
      return;
    }
    expect(reply.status).toBeLessThan(500);
    if (reply.status >= 400) expectEdgeFormat(edge, reply);
  };

  it('authorization server: credentials, form, path, content type and size', async () => {
    const before = rssMiB();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          withBadPercent.map((s) => basic(`${s}:secret`)),
          withBadPercent.map((s) => basic(`payment-service:${s}`)),
          withBadPercent.map((s) => `Basic ${s}`),
          fc.constant(basic(`payment-service:${secret}`)),
          fc.constant(undefined),
        ),
        fc.oneof(
          body,
          withBadPercent.map((s) => `grant_type=client_credentials&scope=${s}&client_id=${s}`),
        ),
        contentType,
        fc.constantFrom('/token', '/token/%ff', '/%E0%A4%A', '/jwks', '/.well-known/%zz', '/auth'),
        fc.constantFrom('POST', 'GET', 'PUT'),
        async (authorization, b, ct, path, method) => {
          const buf = Buffer.from(b);
          const reply = await send(
            url('as', path),
            method,
            {
              ...(authorization ? { authorization } : {}),
              ...(ct ? { 'content-type': ct } : {}),
              ...(method === 'GET' ? {} : { 'content-length': String(buf.length) }),
            },
            method === 'GET' ? [] : [buf],
          );
          await checks('as', reply, buf.length);
        },
      ),
      { numRuns: 150 },
    );
    await alive();
    expect(rssMiB() - before).toBeLessThan(200);
  });

  it('payments API and admin API: path, nesting, content type, size, credentials', async () => {
    const before = rssMiB();
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Edge>('api', 'admin'),
        fc.constantFrom(
          '/v1/payments',
          '/v1/refunds',
          '/v1/payments/%E0%A4%A',
          '/v1/%zz',
          '/admin/clients/%E0%A4%A',
          '/admin/faults',
          '/admin/clients/fuzz-client',
        ),
        body,
        contentType,
        fc.oneof(fc.constant(undefined), withBadPercent),
        async (edge, path, b, ct, badBearer) => {
          const buf = Buffer.from(b);
          const method = path.startsWith('/admin') ? 'PUT' : 'POST';
          const reply = await send(
            url(edge, path),
            method,
            {
              ...auth(edge),
              ...(badBearer ? { authorization: `Bearer ${badBearer}` } : {}),
              ...(ct ? { 'content-type': ct } : {}),
              'content-length': String(buf.length),
            },
            [buf],
          );
          await checks(edge, reply, buf.length);
        },
      ),
      { numRuns: 200 },
    );
    await alive();
    expect(rssMiB() - before).toBeLessThan(200);
  });

  it('answers deeply nested JSON with 400 before any walker recurses', async () => {
    const deep = '['.repeat(30_000) + ']'.repeat(30_000);
    for (const [edge, method, path] of [
      ['api', 'POST', '/v1/payments'],
      ['admin', 'PUT', '/admin/faults'],
    ] as const) {
      const reply = await send(
        url(edge, path),
        method,
        { ...auth(edge), 'content-type': 'application/json' },
        [Buffer.from(deep)],
      );
      expect({ edge, status: reply.status }).toEqual({ edge, status: 400 });
      expectEdgeFormat(edge, reply);
    }
    await alive();
  });

  it('answers malformed percent-encoding in Basic credentials with invalid_request', async () => {
    for (const raw of ['payment-service:%zz', '%E0%A4%A:x', 'no-separator']) {
      const reply = await send(
        url('as', '/token'),
        'POST',
        { ...form, authorization: basic(raw) },
        [Buffer.from('grant_type=client_credentials&scope=payments:read')],
      );
      expect({ raw, status: reply.status }).toEqual({ raw, status: 400 });
      expect(JSON.parse(reply.text)).toMatchObject({ error: 'invalid_request' });
    }
  });
});
