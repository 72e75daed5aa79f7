import { z, type ZodType } from 'zod';
import {
  PUBLIC_ROUTES,
  grantOf,
  isCallerRoute,
  isSignedRoute,
  routeKey,
  type RouteGrant,
  type ServiceName,
} from '@lpi/access-matrix';
import { errorEnvelopeSchema } from '@lpi/service-bootstrap';
import { HTTP_CONTRACTS, PUBLIC_CONTRACTS, type RouteContract } from './http-contracts';
import { IDEMPOTENCY_KEY_PATTERN } from './job-helpers';

/** Bumped when a contract changes in a way a generated client would notice. */
export const API_VERSION = '1.0.0';

export type JsonObject = { [key: string]: unknown };
type Status = number;

const ENVELOPE_REF = { $ref: '#/components/schemas/ErrorEnvelope' };
const REQUEST_ID = { $ref: '#/components/headers/RequestId' };

const REASONS: Record<Status, string> = {
  400: 'the request is malformed or invalid',
  401: 'not authenticated',
  403: 'authenticated, but this route is not granted',
  404: 'not found',
  409: 'the Idempotency-Key was already used with another body',
  413: 'the body is larger than 64 KiB',
  415: 'the body is not JSON (or its charset or encoding is not supported)',
  503: 'a dependency is unavailable now; retry after Retry-After seconds',
};

/**
 * The OpenAPI 3.1 document of one service: every route the access matrix gives it, with
 * who may call it (security, scope, audience, callers), and the schemas its contracts
 * validate with. Served at `GET /openapi.json` and written to `docs/api/` by
 * `npm run api:generate` (ADR 0024).
 */
export function openApiDocument(service: ServiceName): JsonObject {
  const grant = grantOf(service);
  const schemas: JsonObject = { ErrorEnvelope: toJsonSchema(errorEnvelopeSchema, 'output') };
  const paths: Record<string, JsonObject> = {};
  const routes: readonly RouteGrant[] = [...grant.http.routes, ...PUBLIC_ROUTES];
  for (const route of routes) {
    const contract = contractOf(service, route);
    const path = route.path.replace(/:([A-Za-z_]+)/g, '{$1}');
    paths[path] = {
      ...paths[path],
      [route.method.toLowerCase()]: operation(service, route, contract, schemas),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: service,
      version: API_VERSION,
      description: `${grant.purpose}. Generated from the zod contracts the service validates with and the access matrix (ADR 0024).`,
    },
    paths,
    components: {
      schemas: sortedKeys(schemas),
      headers: {
        RequestId: {
          description: "the request's id (the caller's X-Request-Id when it is token-safe)",
          required: true,
          schema: { type: 'string' },
        },
      },
      securitySchemes: securitySchemes(service, routes),
    },
  };
}

/** A route's contract; a matrix route without one is a bug the generator refuses. */
function contractOf(service: ServiceName, route: RouteGrant): RouteContract {
  const key = routeKey(route);
  const contract = 'public' in route ? PUBLIC_CONTRACTS[key] : HTTP_CONTRACTS[service][key];
  if (!contract)
    throw new Error(
      `${service}: ${key} is in the access matrix but has no contract in libs/integration-runtime/src/http-contracts.ts`,
    );
  return contract;
}

function operation(
  service: ServiceName,
  route: RouteGrant,
  contract: RouteContract,
  schemas: JsonObject,
): JsonObject {
  const named = (body: { name: string; schema: ZodType }, io: 'input' | 'output') => {
    schemas[body.name] ??= toJsonSchema(body.schema, io);
    return { $ref: `#/components/schemas/${body.name}` };
  };
  const { success } = contract;
  const responses: JsonObject = {
    [success.status]: {
      description: success.description,
      headers: { 'X-Request-Id': REQUEST_ID },
      ...(success.body
        ? { content: { 'application/json': { schema: named(success.body, 'output') } } }
        : success.text
          ? { content: { [success.text]: { schema: { type: 'string' } } } }
          : {}),
    },
  };
  for (const [status, codes] of errorsOf(route, contract))
    responses[status] = errorResponse(service, route, status, codes);
  return {
    operationId: operationId(route),
    summary: contract.summary,
    ...access(service, route),
    parameters: parameters(route, contract),
    ...(contract.body
      ? {
          requestBody: {
            required: true,
            content: { 'application/json': { schema: named(contract.body, 'input') } },
          },
        }
      : {}),
    responses,
  };
}

/** Who may call the route, as OpenAPI security plus the matrix's own terms. */
function access(service: ServiceName, route: RouteGrant): JsonObject {
  if (isCallerRoute(route))
    return {
      description: `Caller token for audience \`${service}\` with scope \`${route.scope}\`; granted to: ${route.callers.join(', ')}.`,
      security: [{ callerToken: [route.scope] }],
      'x-scope': route.scope,
      'x-audience': service,
      'x-callers': [...route.callers],
    };
  if (isSignedRoute(route))
    return {
      description: `Signed by the ${route.signedBy} (Standard Webhooks): webhook-id, webhook-timestamp and webhook-signature over the raw body; no caller token.`,
      security: [{ providerSignature: [] }],
      'x-signed-by': route.signedBy,
    };
  return { description: 'Public: no token.', security: [] };
}

/** Every error status the route can answer: its handler's own, then its edge's and guard's. */
function errorsOf(route: RouteGrant, contract: RouteContract): [Status, string[]][] {
  const codes = new Map<Status, Set<string>>();
  const add = (status: Status, ...more: readonly string[]) =>
    codes.set(status, new Set([...(codes.get(status) ?? []), ...more]));
  for (const [status, list] of Object.entries(contract.errors)) add(Number(status), ...list);
  if (contract.body) {
    // body parser and edge bounds (libs/service-bootstrap edge.ts)
    add(400, 'malformed_request', 'json_too_deep');
    add(413, 'payload_too_large');
    add(415, 'unsupported_charset', 'unsupported_encoding');
  }
  if (contract.params) add(400, 'malformed_request'); // a bad percent-escape in the path
  if (isCallerRoute(route)) {
    add(401, 'missing_token', 'invalid_token');
    add(403, 'caller_not_allowed', 'insufficient_scope');
    add(503, 'issuer_unavailable');
  }
  return [...codes.entries()].sort(([a], [b]) => a - b).map(([s, set]) => [s, [...set]]);
}

function errorResponse(
  service: ServiceName,
  route: RouteGrant,
  status: Status,
  codes: string[],
): JsonObject {
  const headers: JsonObject = { 'X-Request-Id': REQUEST_ID };
  if (isCallerRoute(route) && (status === 401 || status === 403))
    headers['WWW-Authenticate'] = {
      description:
        status === 401
          ? `Bearer challenge (RFC 6750): realm="${service}", and error="invalid_token" when a token was presented`
          : `Bearer challenge: error="insufficient_scope", scope="${route.scope}"`,
      required: true,
      schema: { type: 'string', pattern: `^Bearer realm="${service}"` },
    };
  if (status === 503 && !('public' in route))
    headers['Retry-After'] = {
      description: 'seconds to wait before retrying',
      required: true,
      schema: { type: 'string', pattern: '^[0-9]+$' },
    };
  return {
    description: `${REASONS[status] ?? 'refused'}; error.code is one of: ${codes.join(', ')}`,
    headers,
    content: { 'application/json': { schema: ENVELOPE_REF } },
  };
}

function parameters(route: RouteGrant, contract: RouteContract): JsonObject[] {
  const params: JsonObject[] = Object.entries(contract.params ?? {}).map(([name, schema]) => ({
    name,
    in: 'path',
    required: true,
    schema: toJsonSchema(schema, 'input'),
  }));
  if (contract.idempotencyKey)
    params.push({
      name: 'Idempotency-Key',
      in: 'header',
      required: true,
      description:
        'names the request: a retry with the same key and body is the same request (never charged twice); the same key with another body is a 409',
      schema: { type: 'string', pattern: IDEMPOTENCY_KEY_PATTERN.source },
    });
  if (isSignedRoute(route))
    for (const [name, description] of [
      [
        'webhook-id',
        'the delivery id, 1-128 printable characters; a replay is acknowledged and dropped',
      ],
      ['webhook-timestamp', 'seconds since the epoch; more than 5 minutes away is refused'],
      ['webhook-signature', 'v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">'],
    ] as const)
      params.push({ name, in: 'header', required: true, description, schema: { type: 'string' } });
  params.push({
    name: 'X-Request-Id',
    in: 'header',
    required: false,
    description: 'echoed in the response and every log line of the request when token-safe',
    schema: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$' },
  });
  return params;
}

function securitySchemes(service: ServiceName, routes: readonly RouteGrant[]): JsonObject {
  const schemes: JsonObject = {};
  if (routes.some(isCallerRoute))
    schemes.callerToken = {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: `A short-lived Vault identity token a declared caller mints for this service (ADR 0014): aud = "${service}", scope holds the route's scope, the caller is one the route grants.`,
    };
  if (routes.some(isSignedRoute))
    schemes.providerSignature = {
      type: 'apiKey',
      in: 'header',
      name: 'webhook-signature',
      description:
        'Standard Webhooks signature with the secret registered with the provider (from Vault); checked over the raw body with webhook-id and webhook-timestamp.',
    };
  return schemes;
}

/** `POST /payments` -> `postPayments`, `GET /payments/:id` -> `getPaymentsById`. */
function operationId(route: RouteGrant): string {
  const words = route.path
    .split(/[/.]/)
    .filter(Boolean)
    .map((w) => (w.startsWith(':') ? `by-${w.slice(1)}` : w))
    .flatMap((w) => w.split('-'));
  return [route.method.toLowerCase(), ...words.map((w) => w[0].toUpperCase() + w.slice(1))].join(
    '',
  );
}

function toJsonSchema(schema: ZodType, io: 'input' | 'output'): JsonObject {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io }) as JsonObject;
  return json;
}

const sortedKeys = (o: JsonObject): JsonObject =>
  Object.fromEntries(Object.entries(o).sort(([a], [b]) => a.localeCompare(b)));
