-- reporting-service's running totals: one row per kind and currency, moved in the same
-- statement that stores an event's row, so a summary reads a handful of rows at any size.
-- id_hash is the XOR of the 64-bit hashes of the provider ids counted (ours against theirs).
CREATE TABLE reporting.totals (
  kind     text NOT NULL CHECK (kind IN ('payments', 'refunds', 'provider', 'events')),
  currency text NOT NULL,
  count    bigint NOT NULL DEFAULT 0,
  amount   bigint NOT NULL DEFAULT 0,
  id_hash  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (kind, currency)
);

INSERT INTO reporting.totals (kind, currency, count, amount, id_hash)
SELECT 'payments', currency, count(*), sum(amount), bit_xor(hashtextextended(provider_payment_id, 0))
FROM reporting.payments GROUP BY currency
UNION ALL
SELECT 'refunds', currency, count(*), sum(amount), bit_xor(hashtextextended(provider_refund_id, 0))
FROM reporting.refunds GROUP BY currency
UNION ALL
SELECT 'provider', currency, count(*), sum(amount), bit_xor(hashtextextended(id, 0))
FROM reporting.provider_transactions GROUP BY currency
UNION ALL
SELECT 'events', '', count(*), 0, 0 FROM reporting.provider_events HAVING count(*) > 0;
