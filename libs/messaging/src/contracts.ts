import { z } from 'zod';
import type { QueueName } from '@lpi/access-matrix';

/**
 * Job contracts: one versioned payload schema per queue, wrapped in a common envelope.
 * Job data is stored in Redis in plain text, so it carries business ids and amounts only:
 * never a token, secret, key or card number (checked on every add).
 */
const businessId = (prefix: string) =>
  z.string().regex(new RegExp(`^${prefix}_[A-Za-z0-9_-]{1,64}$`), `must look like ${prefix}_<id>`);
const amount = z.number().int('must be an integer in minor units').positive().max(100_000_000);
const currency = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code');
/** Text a job carries into the record of money: PostgreSQL text cannot hold a NUL character. */
const text = (max: number, min = 0) =>
  z
    .string()
    .min(min)
    .max(max)
    .refine((v) => !v.includes('\u0000'), 'must not contain a NUL character');
const shortText = text(200);

export const paymentRequested = z.object({
  payment_id: businessId('pay'),
  amount,
  currency,
  description: shortText.optional(),
  customer_ref: z.string().max(64).optional(),
});

export const paymentResult = z.object({
  payment_id: businessId('pay'),
  provider_payment_id: z.string().max(64),
  status: z.enum(['succeeded', 'failed']),
  amount,
  currency,
  failure_code: z.string().max(64).optional(),
});

export const refundRequested = z.object({
  refund_id: businessId('ref'),
  provider_payment_id: text(64, 1),
  amount,
  currency,
  reason: shortText.optional(),
});

export const refundResult = z.object({
  refund_id: businessId('ref'),
  provider_refund_id: z.string().max(64),
  provider_payment_id: z.string().max(64),
  status: z.enum(['succeeded', 'failed']),
  amount,
  currency,
  failure_code: z.string().max(64).optional(),
});

export const providerEvent = z.object({
  webhook_id: text(128, 1),
  event_type: z.string().regex(/^[a-z_]+\.[a-z_]+$/),
  object_id: text(64),
  amount: amount.optional(),
  currency: currency.optional(),
});

export const CONTRACTS = {
  payments: { type: 'payment.requested', version: 1, data: paymentRequested },
  'payment-events': { type: 'payment.result', version: 1, data: paymentResult },
  refunds: { type: 'refund.requested', version: 1, data: refundRequested },
  'refund-events': { type: 'refund.result', version: 1, data: refundResult },
  'provider-events': { type: 'provider.event', version: 1, data: providerEvent },
} as const satisfies Record<QueueName, { type: string; version: number; data: z.ZodType }>;

export type JobData<Q extends QueueName> = z.infer<(typeof CONTRACTS)[Q]['data']>;

export interface Envelope<Q extends QueueName> {
  id: string;
  type: (typeof CONTRACTS)[Q]['type'];
  version: number;
  occurredAt: string;
  correlationId: string;
  /** W3C trace context of the span that enqueued the job, when tracing is on (ADR 0023). */
  traceparent?: string;
  data: JobData<Q>;
}

/** A W3C `traceparent`: version, trace id, parent span id, flags; nothing else fits. */
export const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

function buildEnvelopeSchema<Q extends QueueName>(queue: Q) {
  const c = CONTRACTS[queue];
  return z.object({
    id: z.string().min(1).max(128),
    type: z.literal(c.type),
    version: z.literal(c.version),
    occurredAt: z.iso.datetime(),
    correlationId: z.string().min(1).max(128),
    traceparent: z.string().max(55).regex(TRACEPARENT, 'must be a W3C traceparent').optional(),
    data: c.data,
  });
}

// built once per queue: zod compiles a schema on its first parse, so a fresh schema per job
// paid that compile on every add and every consume
const envelopeSchemas = new Map<QueueName, ReturnType<typeof buildEnvelopeSchema>>();

export function envelopeSchema<Q extends QueueName>(
  queue: Q,
): ReturnType<typeof buildEnvelopeSchema<Q>> {
  let schema = envelopeSchemas.get(queue);
  if (!schema) {
    schema = buildEnvelopeSchema(queue);
    envelopeSchemas.set(queue, schema);
  }
  return schema as ReturnType<typeof buildEnvelopeSchema<Q>>;
}

const SECRET_SHAPES: [RegExp, string][] = [
  [/eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\./, 'a JWT'],
  [/-----BEGIN [A-Z ]*(PRIVATE KEY|CERTIFICATE)-----/, 'PEM material'],
  [/\bwhsec_[A-Za-z0-9+/=]{8,}/, 'a webhook signing secret'],
  [/\bhv[sbr]\.[A-Za-z0-9_-]{16,}/, 'a Vault token'],
  [/\b(?:\d[ -]?){13,19}\b/, 'a card number'],
];

/** Finds the first string anywhere in a value that looks like a secret; returns its path. */
export function findSecretShape(
  value: unknown,
  path = 'data',
): { path: string; shape: string } | undefined {
  if (typeof value === 'string') {
    for (const [re, shape] of SECRET_SHAPES) if (re.test(value)) return { path, shape };
    return undefined;
  }
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const hit = findSecretShape(v, `${path}.${k}`);
      if (hit) return hit;
    }
  }
  return undefined;
}
