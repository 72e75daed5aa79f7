import { randomUUID } from 'node:crypto';
import { waitFor } from '@lpi/testing';
import { startStack, type Stack } from '../demo/stack';

// Two payment-service processes on the same queues, as a Deployment with two replicas runs
// them: every payment is charged exactly once whichever replica took the request and
// whichever one took the job, a retry sent to the other replica is the same payment, and both
// replicas did part of the work.
jest.setTimeout(240_000);

const PAYMENTS = 60;

/** What one process's /metrics says it processed from a queue, by outcome. */
async function processed(url: string, queue: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = new RegExp(
    `^lpi_jobs_processed_total\\{[^}]*queue="${queue}"[^}]*outcome="succeeded"[^}]*\\} (\\d+)`,
    'm',
  ).exec(text);
  if (!line) throw new Error(`${url}/metrics has no processed total for ${queue}`);
  return Number(line[1]);
}

describe('payment-service with two replicas', () => {
  let s: Stack;
  let replicaUrl = '';
  beforeAll(async () => {
    s = await startStack({ rateLimitPerMinute: 6000 });
    replicaUrl = (await s.startReplica('payment-service')).url;
  }, 180_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('charges every payment exactly once under load, shares the jobs, and keeps idempotency across replicas', async () => {
    const checkout = s.callers.checkout;
    const replica = checkout.at('payment-service', replicaUrl);
    const keys = Array.from({ length: PAYMENTS }, () => `replicas-${randomUUID()}`);
    const answers = await Promise.all(
      keys.map(async (key, i) => {
        const res = await (i % 2 ? replica : checkout).post('payment-service', '/payments', key, {
          amount: 100 + i,
          currency: 'EUR',
        });
        const body = (await res.json()) as { payment_id: string; error?: { code: string } };
        return { status: res.status, id: body.payment_id, replica: i % 2, error: body.error };
      }),
    );
    expect(answers.filter((a) => a.status !== 202)).toEqual([]);
    // the same key through the other replica is the same payment, not a second one
    const again = await (
      await replica.post('payment-service', '/payments', keys[0], {
        amount: 100,
        currency: 'EUR',
      })
    ).json();
    expect(again).toMatchObject({ payment_id: answers[0].id });

    const ids = answers.map((a) => a.id);
    await waitFor(
      `${PAYMENTS} charges`,
      async () => {
        const charged = new Set(
          (await s.sandbox.admin.ledger()).payments.map((p) => String(p.idempotency_key)),
        );
        return ids.every((id) => charged.has(`charge:${id}`)) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const ledger = await s.sandbox.admin.ledger();
    const charges = ids.map(
      (id) => ledger.payments.filter((p) => p.idempotency_key === `charge:${id}`).length,
    );
    expect(charges.filter((n) => n !== 1)).toEqual([]);

    const shares = [
      await processed(s.services['payment-service'].url, 'payments'),
      await processed(replicaUrl, 'payments'),
    ];
    expect(shares[0] + shares[1]).toBe(PAYMENTS);
    expect(Math.min(...shares)).toBeGreaterThan(0);
  });
});
