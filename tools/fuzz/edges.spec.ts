import fc from 'fast-check';
import { SERVICE_NAMES, isPublicRoute, routesOf, type ServiceName } from '@lpi/access-matrix';
import { startStack, type Stack } from '../demo/stack';
import { memoryOf, pidListeningOn } from './proc';
import { rawRequest, streamOversized, type RawResult, type Target } from './raw-http';
import { materialize, requestSpec, wellFramed, type RequestSpec } from './requests';

// Every HTTP edge the project runs, attacked as an outsider: malformed percent-encodings,
// sizes at and over the limits, deep nesting, every JSON shape, odd content types, broken
// framing and header garbage (issue 16). Each edge must answer no 5xx, in its own error
// format, keep serving (its health route) and keep its memory bounded. A failure prints the
// smallest request spec fast-check found (generated values only: no secret is ever sent).
// tools/drills/service-fuzz.spec.ts keeps the services' semantic properties (only accepted
// payments are charged, unsigned webhooks enqueue nothing); this file is the transport and
// encoding layer, for every edge.
jest.setTimeout(120_000);

/** How many generated requests per edge; the whole file stays well inside 90 s. */
const RUNS = 45;
/** What an edge may grow its peak resident memory by over its whole run (MB). */
const PEAK_GROWTH_MB = 160;
/** A body declared at 1 GB, of which this much is offered; a bounded edge stops reading. */
const STREAM_BYTES = 24 * 1024 * 1024;

type Json = Record<string, unknown>;
const str = (v: unknown) => typeof v === 'string' && v.length > 0;
const isEnvelope = (b: Json, withRequestId: boolean) => {
  const e = b.error as Json | undefined;
  return (
    !!e && str(e.type) && str(e.code) && str(e.message) && (!withRequestId || str(e.request_id))
  );
};
const FORMATS = {
  /** The services' envelope. */
  service: (b: Json) => isEnvelope(b, true),
  /** The provider API's own error body (the same shape as the services'). */
  provider: (b: Json) => isEnvelope(b, false),
  /** Vault's `{"errors":[...]}`. */
  vault: (b: Json) => Array.isArray(b.errors) && b.errors.every((e) => typeof e === 'string'),
  /** RFC 6749 section 5.2. */
  oauth: (b: Json) =>
    str(b.error) &&
    /^[\x20-\x21\x23-\x5b\x5d-\x7e]+$/.test(String(b.error)) &&
    (b.error_description === undefined || typeof b.error_description === 'string'),
};

interface Edge {
  name: string;
  target: () => Target;
  pid: () => number;
  routes: readonly string[];
  methods: readonly string[];
  health: string;
  format: (body: Json) => boolean;
  /** Paths whose errors must be in `format` (default: every path, 404s included). */
  formatOn?: (path: string) => boolean;
  /** The route an oversized body is streamed to, with its content type. */
  upload: { method: string; path: string; type: string };
}

let s: Stack;
beforeAll(async () => {
  s = await startStack({ rateLimitPerMinute: 6000 });
}, 120_000);
afterAll(async () => {
  await s?.stop();
});

const port = (url: string) => Number(new URL(url).port);
/** Every declared route of a service (parameters filled in), and where a body goes. */
function serviceRoutes(service: ServiceName): { routes: string[]; upload: string } {
  const declared = routesOf(service).filter((r) => !isPublicRoute(r));
  const routes = [...new Set(declared.map((r) => r.path.replace(/:[a-z_]+/g, 'x_1')))];
  const upload = declared.find((r) => r.method === 'POST')?.path ?? routes[0] ?? '/';
  return { routes, upload };
}
const json = 'application/json';
const EDGES: Edge[] = [
  ...SERVICE_NAMES.map((svc): Edge => ({
    name: svc,
    target: () => ({ port: port(s.services[svc].url) }),
    pid: () => Number(s.services[svc].process.pid),
    routes: serviceRoutes(svc).routes,
    methods: ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'],
    health: '/health/live',
    format: FORMATS.service,
    upload: { method: 'POST', path: serviceRoutes(svc).upload, type: json },
  })),
  {
    name: 'vault-dev',
    target: () => ({ port: port(s.vault.addr) }),
    pid: () => pidListeningOn(port(s.vault.addr)),
    routes: [
      '/v1/auth/approle/login',
      '/v1/sys/wrapping/unwrap',
      '/v1/secret/data/payment-service',
      '/v1/sys/capabilities-self',
      '/v1/auth/token/lookup-self',
      '/v1/sys/policies/acl/x',
    ],
    methods: ['GET', 'POST', 'PUT', 'DELETE', 'LIST'],
    health: '/v1/sys/health',
    format: FORMATS.vault,
    upload: { method: 'POST', path: '/v1/auth/approle/login', type: json },
  },
  {
    name: 'sandbox token endpoint',
    target: () => ({ port: port(s.sandbox.issuer), ca: s.sandbox.caCert }),
    pid: () => pidListeningOn(port(s.sandbox.issuer)),
    routes: ['/token'],
    methods: ['POST'],
    health: '/.well-known/openid-configuration',
    format: FORMATS.oauth,
    // RFC 6749 governs the OAuth endpoints; other paths on this server only owe no 5xx
    formatOn: (path) => path.split('?')[0] === '/token',
    upload: { method: 'POST', path: '/token', type: 'application/x-www-form-urlencoded' },
  },
  {
    name: 'sandbox payments API',
    target: () => ({ port: port(s.sandbox.apiBaseUrl), ca: s.sandbox.caCert }),
    pid: () => pidListeningOn(port(s.sandbox.apiBaseUrl)),
    routes: [
      '/v1/payments',
      '/v1/payments/pp_1',
      '/v1/refunds',
      '/v1/transactions',
      '/v1/webhook-endpoints',
    ],
    methods: ['GET', 'POST', 'DELETE', 'PUT'],
    health: '/health/ready',
    format: FORMATS.provider,
    upload: { method: 'POST', path: '/v1/payments', type: json },
  },
  {
    name: 'sandbox admin API',
    target: () => ({ port: port(s.sandbox.apiBaseUrl), ca: s.sandbox.caCert }),
    pid: () => pidListeningOn(port(s.sandbox.apiBaseUrl)),
    routes: ['/admin/clients/x', '/admin/clients/x/secrets', '/admin/faults', '/admin/ledger'],
    methods: ['GET', 'POST', 'PUT', 'DELETE'],
    health: '/health/ready',
    format: FORMATS.provider,
    upload: { method: 'PUT', path: '/admin/faults', type: json },
  },
];

const headerBytes = (spec: RequestSpec) =>
  spec.headers.reduce((n, [k, v]) => n + k.length + v.length, 0) +
  (spec.auth?.length ?? 0) +
  spec.path.length;

/** What was wrong with an answer, or undefined: small, and never the request's bytes. */
function verdict(edge: Edge, spec: RequestSpec, res: RawResult): string | undefined {
  // broken framing, or headers past Node's parser limits, may be refused before the edge's
  // code runs (a bare 400/431, or a closed connection): no 5xx is all that is asked
  const parserLevel = !wellFramed(spec) || headerBytes(spec) > 8 * 1024;
  if (res.kind === 'timeout') return 'no answer within 8 s';
  if (res.kind === 'closed') return parserLevel ? undefined : 'closed without an answer';
  if (res.status >= 500) return `${res.status}: ${res.body.slice(0, 200)}`;
  // Node's own HTTP parser refuses some requests before any edge code runs (bad framing 400,
  // an unknown Expect 417, oversized headers 431): bare, no body, no content type
  const bare = !res.body && !res.headers['content-type'];
  if (res.status < 400 || ((parserLevel || bare) && !res.body)) return undefined;
  if (edge.formatOn && !edge.formatOn(spec.path)) return undefined;
  let body: Json;
  try {
    body = JSON.parse(res.body) as Json;
  } catch {
    return `${res.status} with a non-JSON body: ${res.body.slice(0, 120)}`;
  }
  if (!edge.format(body))
    return `${res.status} not in ${edge.name}'s error format: ${res.body.slice(0, 200)}`;
  // an error quoting the request body would put whatever it carried (a card number, a
  // secret) in the client's logs and in ours
  const sent = spec.body.kind === 'text' ? spec.body.text.trim() : '';
  if (sent.length >= 6 && res.body.includes(JSON.stringify(sent).slice(1, -1)))
    return `${res.status} quotes the request body`;
  return undefined;
}

async function healthy(edge: Edge): Promise<number> {
  const res = await rawRequest(
    edge.target(),
    Buffer.from(`GET ${edge.health} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`),
  );
  return res.kind === 'response' ? res.status : 0;
}

describe.each(EDGES.map((e) => [e.name, e] as const))('%s under adversarial input', (_, edge) => {
  let pid = 0;
  let before = { rssMb: 0, peakMb: 0 };
  beforeAll(() => {
    pid = edge.pid();
    before = memoryOf(pid);
  });

  it('answers every generated request without a 5xx, in its own error format', async () => {
    await fc.assert(
      fc.asyncProperty(requestSpec(edge.routes, edge.methods), async (spec) => {
        const problem = verdict(edge, spec, await rawRequest(edge.target(), materialize(spec)));
        expect(problem).toBeUndefined();
      }),
      { numRuns: RUNS, interruptAfterTimeLimit: 60_000 },
    );
  });

  it('refuses a body declared at 1 GB early (4xx or closed), never reading it to the end', async () => {
    const { result, sent } = await streamOversized(
      edge.target(),
      `${edge.upload.method} ${edge.upload.path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n` +
        `Content-Type: ${edge.upload.type}\r\nContent-Length: ${1024 ** 3}\r\n\r\n`,
      STREAM_BYTES,
    );
    const answered =
      result.kind === 'response' ? Math.floor(result.status / 100) * 100 : result.kind;
    expect({ answered, readToTheEnd: sent >= STREAM_BYTES }).toEqual({
      answered: result.kind === 'response' ? 400 : 'closed',
      readToTheEnd: false,
    });
  });

  it('still serves its health route, and its peak memory grew by a bounded amount', async () => {
    expect(await healthy(edge)).toBe(200);
    expect(memoryOf(pid).peakMb - before.peakMb).toBeLessThan(PEAK_GROWTH_MB);
  });
});
