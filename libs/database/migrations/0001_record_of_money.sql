-- The merchant's record of money: one schema per owning service (see the access matrix).
-- Amounts are integers in the currency's minor unit; nothing here is ever deleted.

CREATE SCHEMA payments;
CREATE SCHEMA refunds;
CREATE SCHEMA webhooks;
CREATE SCHEMA reporting;

-- payment-service: every accepted payment request, stored before it is queued
CREATE TABLE payments.requests (
  id           text PRIMARY KEY CHECK (id ~ '^pay_[A-Za-z0-9_-]{24}$'),
  fingerprint  text NOT NULL,            -- sha256 of the request body: same key, other body = 409
  amount       bigint NOT NULL CHECK (amount > 0),
  currency     text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  description  text,
  state        text NOT NULL DEFAULT 'received'
               CHECK (state IN ('received', 'queued', 'succeeded', 'failed')),
  provider_id  text,                     -- the provider's payment id once charged
  failure_code text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
-- the outbox sweep: requests stored but not yet known to be queued
CREATE INDEX requests_unqueued ON payments.requests (created_at) WHERE state = 'received';

-- refund-service: every accepted refund request
CREATE TABLE refunds.requests (
  id                  text PRIMARY KEY CHECK (id ~ '^ref_[A-Za-z0-9_-]{24}$'),
  fingerprint         text NOT NULL,
  provider_payment_id text NOT NULL,
  amount              bigint NOT NULL CHECK (amount > 0),
  currency            text NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
  reason              text,
  state               text NOT NULL DEFAULT 'received'
                      CHECK (state IN ('received', 'queued', 'succeeded', 'failed')),
  provider_id         text,
  failure_code        text,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX requests_unqueued ON refunds.requests (created_at) WHERE state = 'received';

-- webhook-service: every verified provider event, once per webhook-id, stored before it is queued
CREATE TABLE webhooks.events (
  id          text PRIMARY KEY,          -- the delivery's webhook-id
  fingerprint text NOT NULL,
  event_type  text NOT NULL,
  object_id   text NOT NULL,
  amount      bigint,
  currency    text,
  state       text NOT NULL DEFAULT 'received' CHECK (state IN ('received', 'queued')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_unqueued ON webhooks.events (created_at) WHERE state = 'received';

-- reporting-service: its own read model, fed by the events it consumes (upserts: a redelivered
-- event changes nothing), and its mirror of the provider's transactions, read by cursor
CREATE TABLE reporting.payments (
  payment_id          text PRIMARY KEY,
  provider_payment_id text NOT NULL UNIQUE,
  amount              bigint NOT NULL,
  currency            text NOT NULL,
  recorded_at         timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE reporting.refunds (
  refund_id          text PRIMARY KEY,
  provider_refund_id text NOT NULL UNIQUE,
  amount             bigint NOT NULL,
  currency           text NOT NULL,
  recorded_at        timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE reporting.provider_events (
  webhook_id  text PRIMARY KEY,
  event_type  text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE reporting.provider_transactions (
  id          text PRIMARY KEY,
  type        text NOT NULL CHECK (type IN ('payment', 'refund')),
  amount      bigint NOT NULL,
  currency    text NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE reporting.sync_state (
  name       text PRIMARY KEY,
  cursor     text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
