import { jsonDepthExceeds } from './edge';
import { toEnvelope } from './errors';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('jsonDepthExceeds', () => {
  it.each([
    ['a flat object', '{"a":1,"b":[1,2]}', 2, false],
    ['exactly at the bound', '[[[1]]]', 3, false],
    ['one past the bound', '[[[[1]]]]', 3, true],
    ['mixed objects and arrays', '{"a":{"b":[{"c":1}]}}', 3, true],
    ['brackets inside strings', '{"a":"[[[[[[{{{{"}', 1, false],
    ['escaped quotes inside strings', '{"a":"\\"[[[[\\""}', 1, false],
    ['an escaped backslash before the closing quote', '{"a":"\\\\","b":[[1]]}', 2, true],
    ['siblings do not add up', '[[1],[2],[3],[4]]', 2, false],
  ])('%s', (_what, text, max, expected) => {
    expect(jsonDepthExceeds(b(text), max)).toBe(expected);
  });

  it('stops at the first level past the bound on a huge body', () => {
    expect(jsonDepthExceeds(b('['.repeat(1_000_000)), 32)).toBe(true);
  });
});

describe('body errors in the envelope', () => {
  it.each([
    ['entity.too.large', 413, 'payload_too_large'],
    ['entity.too.deep', 400, 'json_too_deep'],
    ['entity.parse.failed', 400, 'malformed_request'],
    ['charset.unsupported', 415, 'unsupported_charset'],
  ])('%s -> %s %s, never quoting the body', (type, status, code) => {
    const err = Object.assign(new Error('Unexpected token in {"card":"4242424242424242"'), {
      status,
      type,
      body: '{"card":"4242424242424242"}',
    });
    const out = toEnvelope(err, 'req_1');
    expect(out.status).toBe(status);
    expect(out.body.error.code).toBe(code);
    expect(JSON.stringify(out.body)).not.toContain('4242');
  });
});
