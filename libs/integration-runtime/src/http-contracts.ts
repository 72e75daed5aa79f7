import { z, type ZodType } from 'zod';
import { routeKey, type ServiceName } from '@lpi/access-matrix';
import type { RequestResource } from './request-endpoint';

/**
 * The services' HTTP contracts: the zod schemas the handlers validate requests with and
 * type their answers by, declared once beside the job contracts' style. Who may call a route
 * lives in the access matrix; what goes over the wire lives here. The OpenAPI documents
 * (`openApiDocument`) are generated from both, so they cannot describe another API than the
 * one the code checks.
 */

const amount = z.number().int('must be an integer in minor units').positive().max(100_000_000);
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');
/** Free text the record of money stores: PostgreSQL text cannot hold a NUL character. */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((v) => !v.includes('\u0000'), 'must not contain a NUL character');
const requestState = z
  .enum(['queued', 'succeeded', 'failed'])
  .meta({ description: "where the request stands: its job's state" });
const businessId = (prefix: 'pay' | 'ref') =>
  z
    .string()
    .regex(new RegExp(`^${prefix}_[A-Za-z0-9_-]{24}$`))
    .meta({
      description: `derived from the Idempotency-Key: the same key is the same ${prefix}_ id`,
    });

export const paymentRequest = z.strictObject({
  amount,
  currency,
  description: text(200).optional(),
});
export type PaymentRequest = z.infer<typeof paymentRequest>;

export const refundRequest = z.strictObject({
  provider_payment_id: z
    .string()
    .regex(/^pp_[A-Za-z0-9_-]{1,64}$/, 'must be a provider payment id'),
  amount,
  currency,
  reason: text(200).optional(),
});
export type RefundRequest = z.infer<typeof refundRequest>;

export const paymentView = z.strictObject({
  payment_id: businessId('pay'),
  status: requestState,
  provider_payment_id: z.string().max(64).optional(),
});

export const refundView = z.strictObject({
  refund_id: businessId('ref'),
  status: requestState,
  provider_refund_id: z.string().max(64).optional(),
});

/** POST /payments and GET /payments/:id (payment-service). */
export const PAYMENTS: RequestResource<'payments', PaymentRequest> = {
  path: 'payments',
  queue: 'payments',
  idPrefix: 'pay',
  idField: 'payment_id',
  resultField: 'provider_payment_id',
  notFoundCode: 'payment_not_found',
  body: paymentRequest,
  toJob: (payment_id, input) => ({ payment_id, ...input }),
  table: 'payments.requests',
  columns: ['amount', 'currency', 'description'],
};

/** POST /refunds and GET /refunds/:id (refund-service). */
export const REFUNDS: RequestResource<'refunds', RefundRequest> = {
  path: 'refunds',
  queue: 'refunds',
  idPrefix: 'ref',
  idField: 'refund_id',
  resultField: 'provider_refund_id',
  notFoundCode: 'refund_not_found',
  body: refundRequest,
  toJob: (refund_id, input) => ({ refund_id, ...input }),
  table: 'refunds.requests',
  columns: ['provider_payment_id', 'amount', 'currency', 'reason'],
};

const count = z.number().int().nonnegative();
const byCurrency = z.record(z.string().regex(/^[A-Z]{3}$/), z.number().int()).meta({
  description: 'minor units per ISO 4217 currency: amounts of different currencies never add up',
});
const totals = z.strictObject({ count, by_currency: byCurrency });

/** GET /reports/summary: our own results reconciled against the provider's transactions. */
export const reportSummary = z.strictObject({
  payments: totals,
  refunds: totals,
  provider: z.strictObject({ transactions: count, net_by_currency: byCurrency }),
  provider_events_received: count,
  reconciled: z
    .boolean()
    .meta({ description: "our payments and refunds are exactly the provider's transactions" }),
});
export type ReportSummary = z.infer<typeof reportSummary>;

/**
 * The provider events webhook-service forwards (POST /webhooks/provider). A signed event of
 * another shape is acknowledged and dropped, so the document shows the shape, not a refusal.
 */
export const providerWebhookEvent = z.object({
  type: z.string().regex(/^[a-z_]{1,32}\.[a-z_]{1,32}$/),
  data: z
    .object({
      id: text(64).optional(),
      amount: z.number().int().positive().max(100_000_000).optional(),
      currency: z
        .string()
        .regex(/^[A-Z]{3}$/)
        .optional(),
    })
    .optional(),
});

/** What the public routes answer (terminus' health report; the API description itself). */
const healthReport = z.object({
  status: z.string(),
  info: z.record(z.string(), z.unknown()).optional(),
  error: z.record(z.string(), z.unknown()).optional(),
  details: z.record(z.string(), z.unknown()),
});
const openApiDocumentShape = z.looseObject({
  openapi: z.string().regex(/^3\.1\.\d+$/),
  info: z.looseObject({ title: z.string(), version: z.string() }),
  paths: z.record(z.string(), z.unknown()),
});

/** Error answers a handler gives itself: status -> its stable codes. */
export type HandlerErrors = Partial<Record<400 | 401 | 404 | 409 | 415 | 503, readonly string[]>>;

export interface RouteContract {
  summary: string;
  /** A named schema for the components section: `name` is its key there. */
  body?: { name: string; schema: ZodType };
  /** An Idempotency-Key header is required (an accepting POST). */
  idempotencyKey?: boolean;
  /** Path parameters (`:id` in the matrix path), each with its schema. */
  params?: Record<string, ZodType>;
  success: {
    status: 200 | 202 | 204;
    description: string;
    /** A JSON answer, by the schema its type comes from. */
    body?: { name: string; schema: ZodType };
    /** A text answer instead, by its media type (the Prometheus scrape). */
    text?: string;
  };
  errors: HandlerErrors;
}

/** The contracts of a queued request resource's two routes, from its resource declaration. */
function requestResourceRoutes(
  resource: Pick<
    RequestResource<'payments', unknown>,
    'path' | 'idPrefix' | 'notFoundCode' | 'body'
  >,
  names: { request: string; view: string },
  view: ZodType,
): Record<string, RouteContract> {
  const noun = resource.path.replace(/s$/, '');
  return {
    [routeKey({ method: 'POST', path: `/${resource.path}` })]: {
      summary: `Request a ${noun}; it is stored, then queued, under the id its Idempotency-Key names`,
      body: { name: names.request, schema: resource.body },
      idempotencyKey: true,
      success: {
        status: 202,
        description: `stored and queued; a retry with the same key and body answers where the first request stands`,
        body: { name: names.view, schema: view },
      },
      errors: {
        400: ['idempotency_key_required', 'invalid_parameters', 'sensitive_value_refused'],
        409: ['idempotency_key_reused'],
        415: ['unsupported_media_type'],
        503: ['database_unavailable'],
      },
    },
    [routeKey({ method: 'GET', path: `/${resource.path}/:id` })]: {
      summary: `Where a ${noun} request stands`,
      params: { id: businessId(resource.idPrefix) },
      success: { status: 200, description: 'found', body: { name: names.view, schema: view } },
      errors: { 404: [resource.notFoundCode], 503: ['database_unavailable'] },
    },
  };
}

/** Every service's routes besides the public ones, by `METHOD /path` as the matrix names them. */
export const HTTP_CONTRACTS: Record<ServiceName, Record<string, RouteContract>> = {
  'payment-service': requestResourceRoutes(
    PAYMENTS,
    { request: 'PaymentRequest', view: 'Payment' },
    paymentView,
  ),
  'refund-service': requestResourceRoutes(
    REFUNDS,
    { request: 'RefundRequest', view: 'Refund' },
    refundView,
  ),
  'reporting-service': {
    'GET /reports/summary': {
      summary: "Our payments and refunds reconciled against the provider's transactions",
      success: {
        status: 200,
        description: 'the summary',
        body: { name: 'ReportSummary', schema: reportSummary },
      },
      errors: { 503: ['provider_unavailable', 'provider_rate_limited', 'database_unavailable'] },
    },
  },
  'webhook-service': {
    'POST /webhooks/provider': {
      summary: 'A provider event, signed by the provider (Standard Webhooks)',
      body: { name: 'ProviderEvent', schema: providerWebhookEvent },
      success: {
        status: 204,
        description:
          'verified and queued, or acknowledged and dropped (a replay, an event of a shape not handled)',
      },
      errors: {
        400: ['webhook_unsigned', 'webhook_id_invalid', 'webhook_no_body'],
        401: ['webhook_signature_invalid', 'webhook_stale'],
        503: ['database_unavailable'],
      },
    },
  },
};

/** The public routes every service serves (`PUBLIC_ROUTES`), by `METHOD /path`. */
export const PUBLIC_CONTRACTS: Record<string, RouteContract> = {
  'GET /health/live': {
    summary: 'Liveness: the process serves HTTP',
    success: {
      status: 200,
      description: 'alive',
      body: { name: 'HealthReport', schema: healthReport },
    },
    errors: {},
  },
  'GET /health/ready': {
    summary: 'Readiness: every dependency the service registered answers',
    success: {
      status: 200,
      description: 'ready',
      body: { name: 'HealthReport', schema: healthReport },
    },
    errors: { 503: ['http_503'] },
  },
  // in PUBLIC_ROUTES with the metrics work of issue 19; unused until then
  'GET /metrics': {
    summary: 'Prometheus scrape: process, HTTP, queue, token and Vault session figures',
    success: {
      status: 200,
      description: 'the Prometheus text exposition format; no label carries an id or a secret',
      text: 'text/plain',
    },
    errors: {},
  },
  'GET /openapi.json': {
    summary: "This service's API description (OpenAPI 3.1), generated from its contracts",
    success: {
      status: 200,
      description: 'the document',
      body: { name: 'OpenApiDocument', schema: openApiDocumentShape },
    },
    errors: {},
  },
};
