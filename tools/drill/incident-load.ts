// Real traffic through a service while its incident runs: a retrying client, as a caller
// would write it (the same Idempotency-Key on every retry of one request), as the declared
// caller of the route (checkout, finance-dashboard) with its own identity. The incident
// passes only if every request ends succeeded and nothing is charged twice.
import { randomBytes } from 'node:crypto';
import type { ServiceName } from '@lpi/access-matrix';
import type { Stack } from '../demo/stack';
import { allowed, denied, type Outcome } from './rows';

const RETRY_FOR_MS = 180_000;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Driver {
  stop(): void;
  result: Promise<{ outcome: Outcome; detail: string }>;
}

/** Retries one request until it answers 2xx or the retry window closes. */
async function untilOk(
  send: () => Promise<Response>,
): Promise<{ res?: Response; attempts: number }> {
  const until = Date.now() + RETRY_FOR_MS;
  for (let attempts = 1; ; attempts += 1) {
    const res = await send().catch(() => undefined);
    if (res && res.status < 300) return { res, attempts };
    if (Date.now() > until) return { attempts };
    await pause(250);
  }
}

export function driveThrough(s: Stack, service: ServiceName): Driver {
  let stopped = false;
  const url = s.services[service].url;
  const run = async () => {
    const sent: { ok: boolean; attempts: number; paymentId?: string }[] = [];
    while (!stopped || sent.length === 0) {
      if (service === 'payment-service') {
        const key = `incident-${randomBytes(6).toString('hex')}`;
        const { res, attempts } = await untilOk(() =>
          s.callers.checkout.post('payment-service', '/payments', key, {
            amount: 700,
            currency: 'EUR',
            description: 'during the incident',
          }),
        );
        const body = res ? ((await res.json()) as { payment_id?: string }) : {};
        sent.push({ ok: Boolean(res), attempts, paymentId: body.payment_id });
      } else {
        const { res, attempts } = await untilOk(() =>
          service === 'reporting-service'
            ? s.callers['finance-dashboard'].fetch(service, '/reports/summary')
            : fetch(`${url}/health/ready`),
        );
        sent.push({ ok: Boolean(res), attempts });
      }
      await pause(200);
    }
    return settleAll(s, service, sent);
  };
  const result = run();
  return { stop: () => void (stopped = true), result };
}

async function settleAll(
  s: Stack,
  service: ServiceName,
  sent: { ok: boolean; attempts: number; paymentId?: string }[],
): Promise<{ outcome: Outcome; detail: string }> {
  const failed = sent.filter((r) => !r.ok).length;
  const retried = sent.filter((r) => r.attempts > 1).length;
  let detail = `${sent.length} sent, ${retried} retried, ${failed} failed`;
  if (service !== 'payment-service' || failed)
    return { outcome: failed ? denied(detail) : allowed(detail), detail };

  const ids = sent.map((r) => r.paymentId!);
  const states = await Promise.all(
    ids.map(async (id) => {
      const until = Date.now() + RETRY_FOR_MS;
      for (;;) {
        const res = await s.callers.checkout
          .fetch('payment-service', `/payments/${id}`)
          .catch(() => undefined);
        const state = res?.status === 200 ? ((await res.json()) as { status: string }).status : '';
        if (state === 'succeeded' || state === 'failed' || Date.now() > until) return state;
        await pause(500);
      }
    }),
  );
  const ledger = (await s.sandbox.admin.ledger()).payments;
  const charges = ids.map(
    (id) => ledger.filter((p) => p.idempotency_key === `charge:${id}`).length,
  );
  const succeeded = states.filter((x) => x === 'succeeded').length;
  const once = charges.filter((n) => n === 1).length;
  detail = `${sent.length} payments, ${retried} retried, ${succeeded} succeeded, ${once} charged exactly once`;
  const ok = succeeded === ids.length && once === ids.length;
  return { outcome: ok ? allowed(detail) : denied(detail), detail };
}
