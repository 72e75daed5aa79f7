import fc from 'fast-check';

/** A request as a small, printable description (the counterexample fast-check shows). */
export interface RequestSpec {
  method: string;
  path: string;
  contentType?: string;
  auth?: string;
  headers: [string, string][];
  body: BodySpec;
  framing: Framing;
}
export type BodySpec =
  | { kind: 'none' }
  | { kind: 'text'; text: string }
  | { kind: 'deep'; open: '[' | '{"a":'; depth: number }
  | { kind: 'size'; bytes: number; as: 'json' | 'form' };
/** `length` and `chunked` are well framed; the rest is broken HTTP on purpose. */
export type Framing =
  | 'length'
  | 'chunked'
  | 'chunked-broken'
  | 'length-and-chunked'
  | 'length-invalid'
  | 'header-garbage';

export const wellFramed = (spec: RequestSpec) =>
  spec.framing === 'length' || spec.framing === 'chunked';

/** Request bodies the edges take are at most 64 kB: sizes around it and far over it. */
export const LIMIT = 64 * 1024;

const BAD_PERCENT = [
  '%',
  '%z',
  '%zz',
  '%E0%A4%A',
  '%C0%AF',
  '%ff%fe',
  '%00',
  '%2e%2e%2f%2e%2e',
  '%u0041',
  '%%32%65',
  '%F0%9F%98',
];
const badPercent = fc.constantFrom(...BAD_PERCENT);
const segment = fc.oneof(
  badPercent,
  fc.string({ maxLength: 20 }).map((s) => encodeURIComponent(s) || 'x'),
  fc.integer({ min: 1, max: 9000 }).map((n) => 'a'.repeat(n)),
  fc.constantFrom('..', '.', '%2f', 'pay_1', 'ref_1', '__proto__', 'constructor'),
);

/** A route of the edge, perhaps with broken percent-encodings, long or odd segments, a query. */
export const pathOf = (routes: readonly string[]) =>
  fc
    .tuple(
      fc.constantFrom(...routes),
      fc.constantFrom('keep', 'append', 'replace-last'),
      segment,
      fc.option(
        fc.array(fc.tuple(fc.oneof(segment, badPercent), fc.oneof(segment, badPercent)), {
          maxLength: 4,
        }),
      ),
    )
    .map(([route, how, seg, query]) => {
      const base =
        how === 'append'
          ? `${route.replace(/\/$/, '')}/${seg}`
          : how === 'replace-last'
            ? route.replace(/[^/]*$/, seg)
            : route;
      return query ? `${base}?${query.map(([k, v]) => `${k}=${v}`).join('&')}` : base;
    });

const printable = (s: string) => s.replace(/[^\x20-\x7e]/g, '?');
const base64 = (s: string) => Buffer.from(s, 'latin1').toString('base64');

const authorization = fc.option(
  fc.oneof(
    fc.constantFrom('Basic', 'Basic !!!', 'Bearer', 'Bearer ', 'Digest x', 'Basic Og=='),
    fc
      .tuple(fc.oneof(badPercent, fc.string()), fc.oneof(badPercent, fc.string()))
      .map(([id, secret]) => `Basic ${base64(`${printable(id)}:${printable(secret)}`)}`),
    fc.integer({ min: 1000, max: 6000 }).map((n) => `Basic ${base64(`${'a'.repeat(n)}:x`)}`),
    fc.string({ maxLength: 200 }).map((s) => `Bearer ${printable(s)}`),
  ),
  { nil: undefined },
);

const contentType = fc.option(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-16',
    'application/json; charset=bogus',
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=iso-8859-1',
    'text/plain',
    'multipart/form-data; boundary=zz',
    'application/json;;;',
    '',
    '*/*',
    'application/jwt',
  ),
  { nil: undefined },
);

/** Valid JSON of every shape, the fields these edges know in odd types, and free text. */
const text = fc.oneof(
  fc.json({ maxDepth: 4 }),
  fc.constantFrom(
    'null',
    '1',
    '"x"',
    'true',
    '[]',
    '-0',
    '1e999',
    '{',
    '{"a":1,}',
    '\ufeff{}',
    '{"amount":1,"amount":"x","currency":"EUR","currency":["EUR"]}',
    '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}',
    '{"amount":1250,"currency":"EUR","description":"card 4242 4242 4242 4242"}',
    '{"amount":1250,"currency":"EUR","description":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"}',
    '{"amount":1250,"currency":"EUR","description":"\\ud800"}',
    '{"payment_id":"pay_1","amount":9007199254740993,"currency":"EUR"}',
    'grant_type=client_credentials&grant_type=refresh_token&scope=a&scope=b',
    'grant_type=client_credentials&client_id=%zz&client_secret=%E0%A4%A',
    'role_id=%&secret_id=%zz',
    'a[b][c][d][e][f]=1&a[b][c][d][e][f]=2',
  ),
  fc
    .record(
      {
        amount: fc.oneof(
          fc.integer(),
          fc.double(),
          fc.string(),
          fc.constant(null),
          fc.array(fc.integer()),
        ),
        currency: fc.oneof(fc.constantFrom('EUR', 'eur', ''), fc.string(), fc.integer()),
        grant_type: fc.oneof(fc.constant('client_credentials'), fc.string()),
        role_id: fc.oneof(fc.string(), fc.integer(), fc.constant({})),
        token: fc.oneof(fc.string(), fc.constant([])),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc.string({ maxLength: 300, unit: 'binary' }),
);

const body: fc.Arbitrary<BodySpec> = fc.oneof(
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 6, arbitrary: text.map((t) => ({ kind: 'text' as const, text: t })) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('deep' as const),
      open: fc.constantFrom('[' as const, '{"a":' as const),
      depth: fc.constantFrom(64, 1000, 5000, 12_000, 50_000),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('size' as const),
      bytes: fc.constantFrom(LIMIT - 1, LIMIT, LIMIT + 1, 1024 * 1024),
      as: fc.constantFrom('json' as const, 'form' as const),
    }),
  },
);

const headerName = fc.constantFrom(
  'content-type',
  'content-encoding',
  'idempotency-key',
  'x-request-id',
  'webhook-id',
  'webhook-signature',
  'x-vault-token',
  'x-vault-wrap-ttl',
  'accept',
  'expect',
);
const headers = fc.array(
  fc.tuple(
    headerName,
    fc.oneof(
      fc.string({ maxLength: 100 }).map(printable),
      fc.constantFrom('gzip', 'br', '100-continue', '-1', '1e9', 'v1,', badPercentSample()),
      fc.integer({ min: 1000, max: 12_000 }).map((n) => 'x'.repeat(n)),
    ),
  ),
  { maxLength: 3 },
);
function badPercentSample() {
  return BAD_PERCENT.join('');
}

export const requestSpec = (routes: readonly string[], methods: readonly string[]) =>
  fc.record<RequestSpec>({
    method: fc.constantFrom(...methods),
    path: pathOf(routes),
    contentType,
    auth: authorization,
    headers,
    body,
    framing: fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom<Framing>('length', 'chunked') },
      {
        weight: 2,
        arbitrary: fc.constantFrom<Framing>(
          'chunked-broken',
          'length-and-chunked',
          'length-invalid',
          'header-garbage',
        ),
      },
    ),
  });

function bodyBytes(spec: BodySpec): Buffer {
  switch (spec.kind) {
    case 'none':
      return Buffer.alloc(0);
    case 'text':
      return Buffer.from(spec.text, 'utf8');
    case 'deep': {
      const close = spec.open === '[' ? ']' : '}';
      return Buffer.from(`${spec.open.repeat(spec.depth)}1${close.repeat(spec.depth)}`);
    }
    case 'size': {
      const [pre, post] = spec.as === 'json' ? ['{"description":"', '"}'] : ['description=', ''];
      return Buffer.from(
        pre + 'a'.repeat(Math.max(0, spec.bytes - pre.length - post.length)) + post,
      );
    }
  }
}

/** The bytes on the wire for a spec. */
export function materialize(spec: RequestSpec): Buffer {
  const payload = bodyBytes(spec.body);
  const lines = [`${spec.method} ${spec.path} HTTP/1.1`, 'Host: localhost', 'Connection: close'];
  if (spec.contentType !== undefined) lines.push(`Content-Type: ${spec.contentType}`);
  if (spec.auth !== undefined) lines.push(`Authorization: ${spec.auth}`);
  for (const [k, v] of spec.headers) lines.push(`${k}: ${v}`);
  let wire = payload;
  const chunked = () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < payload.length; i += 4096) {
      const c = payload.subarray(i, i + 4096);
      parts.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    return Buffer.concat(parts);
  };
  switch (spec.framing) {
    case 'length':
      lines.push(`Content-Length: ${payload.length}`);
      break;
    case 'chunked':
      lines.push('Transfer-Encoding: chunked');
      wire = chunked();
      break;
    case 'chunked-broken':
      lines.push('Transfer-Encoding: chunked');
      wire = Buffer.concat([Buffer.from('zz\r\n'), payload, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'length-and-chunked':
      lines.push(`Content-Length: ${payload.length}`, 'Transfer-Encoding: chunked');
      wire = chunked();
      break;
    case 'length-invalid':
      lines.push(`Content-Length: ${payload.length}, ${payload.length + 1}`);
      break;
    case 'header-garbage':
      lines.push('Bad Header Name: x', ` folded ${'\u0000'}`, `Content-Length: ${payload.length}`);
      break;
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), wire]);
}
