import { SERVICE_NAMES } from '@lpi/access-matrix';
import { openApiDocument } from '@lpi/integration-runtime';
import { OpenApiConformance, validateOpenApi31 } from './openapi-conformance';

// the checker the stack test relies on: it must refuse what the document does not describe
const payments = new OpenApiConformance(openApiDocument('payment-service'));
const answer = (
  method: string,
  path: string,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) => ({
  method,
  path,
  status,
  headers: new Headers({
    'x-request-id': 'req_1',
    ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
    ...headers,
  }),
  text: body === undefined ? '' : JSON.stringify(body),
});
const envelope = (code: string) => ({
  error: { type: 'invalid_request_error', code, message: 'm', request_id: 'req_1' },
});
const id = 'pay_AAAAAAAAAAAAAAAAAAAAAAAA';

describe('OpenApiConformance', () => {
  it('accepts answers the document describes', () => {
    for (const r of [
      answer('POST', '/payments', 202, { payment_id: id, status: 'queued' }),
      answer('GET', `/payments/${id}`, 200, {
        payment_id: id,
        status: 'succeeded',
        provider_payment_id: 'pp_1',
      }),
      answer('POST', '/payments', 401, envelope('missing_token'), {
        'www-authenticate': 'Bearer realm="payment-service"',
      }),
      answer('GET', `/payments/${id}?x=1`, 404, envelope('payment_not_found')),
      answer('POST', '/payments', 503, envelope('database_unavailable'), { 'retry-after': '1' }),
    ])
      expect(payments.problems(r)).toEqual([]);
  });

  it.each([
    [
      'an undocumented field',
      answer('POST', '/payments', 202, { payment_id: id, status: 'queued', extra: 1 }),
      /additional properties/,
    ],
    [
      'a state outside the enum',
      answer('POST', '/payments', 202, { payment_id: id, status: 'pending' }),
      /allowed values/,
    ],
    [
      'an undocumented status',
      answer('GET', `/payments/${id}`, 409, envelope('x')),
      /not documented/,
    ],
    ['an undocumented route', answer('GET', '/payments', 200, []), /no operation/],
    [
      'a 401 without its challenge',
      answer('POST', '/payments', 401, envelope('missing_token')),
      /WWW-Authenticate is missing/,
    ],
    [
      'an error that is not the envelope',
      answer('GET', `/payments/${id}`, 404, { message: 'not found' }),
      /body/,
    ],
    [
      'a 503 without Retry-After',
      answer('POST', '/payments', 503, envelope('database_unavailable')),
      /Retry-After is missing/,
    ],
  ])('refuses %s', (_what, r, problem) => {
    expect(payments.problems(r).join('\n')).toMatch(problem);
  });

  it('finds every generated document valid OpenAPI 3.1, and refuses a broken one', async () => {
    for (const service of SERVICE_NAMES) {
      const res = await validateOpenApi31(openApiDocument(service));
      expect({ service, ...res }).toEqual({ service, valid: true, version: '3.1', errors: [] });
    }
    const broken = { ...openApiDocument('payment-service'), info: { title: 'x' } };
    expect((await validateOpenApi31(broken)).valid).toBe(false);
  });
});
