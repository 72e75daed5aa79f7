import { PUBLIC_ROUTES, SERVICE_NAMES, grantOf, isPublicRoute, routeKey } from '@lpi/access-matrix';
import { HTTP_CONTRACTS, PUBLIC_CONTRACTS } from './http-contracts';
import { openApiDocument } from './openapi';

type Json = { [key: string]: unknown };
const at = (doc: Json, ...keys: string[]) =>
  keys.reduce<unknown>((node, k) => (node as Json | undefined)?.[k], doc) as Json;

describe('the HTTP contracts and the access matrix', () => {
  it('name the same routes: a contract for every matrix route, none for a route the matrix lacks', () => {
    for (const service of SERVICE_NAMES) {
      const declared = grantOf(service)
        .http.routes.filter((r) => !isPublicRoute(r))
        .map(routeKey)
        .sort();
      expect({ service, routes: Object.keys(HTTP_CONTRACTS[service]).sort() }).toEqual({
        service,
        routes: declared,
      });
    }
    // every public route has one (GET /metrics may be ahead of the matrix, see the contract)
    expect(Object.keys(PUBLIC_CONTRACTS)).toEqual(
      expect.arrayContaining(PUBLIC_ROUTES.map(routeKey)),
    );
  });
});

describe('openApiDocument', () => {
  const payments = openApiDocument('payment-service');

  it('documents POST /payments: Idempotency-Key, the caller token with its scope and audience, every status', () => {
    const post = at(payments, 'paths', '/payments', 'post');
    expect(post.parameters).toContainEqual(
      expect.objectContaining({ name: 'Idempotency-Key', in: 'header', required: true }),
    );
    expect(post.security).toEqual([{ callerToken: ['payments:create'] }]);
    expect(post).toMatchObject({ 'x-audience': 'payment-service', 'x-callers': ['checkout'] });
    expect(Object.keys(post.responses as Json)).toEqual([
      '202',
      '400',
      '401',
      '403',
      '409',
      '413',
      '415',
      '503',
    ]);
    expect(at(post, 'responses', '401', 'headers', 'WWW-Authenticate', 'required')).toBe(true);
    expect(at(post, 'responses', '409', 'description')).toMatch(/idempotency_key_reused/);
    expect(at(post, 'responses', '503', 'content', 'application/json', 'schema')).toEqual({
      $ref: '#/components/schemas/ErrorEnvelope',
    });
  });

  it('takes the request schema from the zod contract the handler parses with', () => {
    expect(at(payments, 'components', 'schemas', 'PaymentRequest')).toMatchObject({
      type: 'object',
      required: ['amount', 'currency'],
      additionalProperties: false,
      properties: { currency: { type: 'string', pattern: '^[A-Z]{3}$' } },
    });
    expect(at(payments, 'components', 'securitySchemes', 'callerToken')).toMatchObject({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
  });

  it('marks the provider-signed route and the public ones as needing no caller token', () => {
    const webhook = openApiDocument('webhook-service');
    const receive = at(webhook, 'paths', '/webhooks/provider', 'post');
    expect(receive.security).toEqual([{ providerSignature: [] }]);
    expect((receive.parameters as Json[]).map((p) => p.name)).toEqual(
      expect.arrayContaining(['webhook-id', 'webhook-timestamp', 'webhook-signature']),
    );
    expect(Object.keys(receive.responses as Json)).toEqual(
      expect.arrayContaining(['204', '400', '401', '413', '503']),
    );
    expect(at(webhook, 'components', 'securitySchemes', 'callerToken')).toBeUndefined();
    for (const path of ['/health/live', '/health/ready', '/openapi.json'])
      expect(at(webhook, 'paths', path, 'get', 'security')).toEqual([]);
  });
});
