import { QUEUE_NAMES, queueKey } from '@lpi/access-matrix';
import { waitFor } from '@lpi/testing';
import { runDrill, type DrillResult } from '../drill/drill';
import { ScenarioLog, scenario } from '../demo/scenario';
import { startStack, type Stack } from '../demo/stack';

// The whole stack on a real three-master Redis Cluster (ADR 0028): the same hash-tagged keys
// and the same ACL file as on one Redis. The scenario, the breach drill's Redis layer, and
// one master killed under load. No replicas: nothing fails over, so the queues on the dead
// master stop until it comes back; what is asserted is what that guarantees.
jest.setTimeout(300_000);

let s: Stack;
let drill: DrillResult;
/** ACL LOG of every node after the scenario: what the services did that an ACL refused. */
let refusedByAcl: unknown[] = [];
const log = new ScenarioLog(() => undefined);
const say = (line: string) => process.stdout.write(`[redis-cluster] ${line}\n`);

beforeAll(async () => {
  s = await startStack({
    redisCluster: { masters: 3 },
    tokenTtlSeconds: 6,
    rateLimitPerMinute: 6000,
    queueLockMs: 2000,
  });
  await scenario(s, log);
  const servers = s.redisCluster!.servers;
  refusedByAcl = (await Promise.all(servers.map((n) => n.admin().call('ACL', 'LOG')))).flat();
  drill = await runDrill({ stack: s, layers: ['redis'], incident: false, print: () => undefined });
});
afterAll(async () => {
  await s?.stop();
});

async function pay(key: string) {
  const res = await s.callers.checkout.post('payment-service', '/payments', key, {
    amount: 1000,
    currency: 'EUR',
  });
  const body = (await res.json()) as { payment_id?: string; error?: { code: string } };
  return { status: res.status, id: body.payment_id, code: body.error?.code };
}

/** How many of these payments the provider has charged (at least once). */
async function charged(ids: string[]): Promise<number> {
  const keys = new Set((await s.sandbox.admin.ledger()).payments.map((p) => p.idempotency_key));
  return ids.filter((id) => keys.has(`charge:${id}`)).length;
}

const chargesOf = async (id: string) =>
  (await s.sandbox.admin.ledger()).payments.filter((p) => p.idempotency_key === `charge:${id}`)
    .length;

describe('the queues on a three-master Redis Cluster', () => {
  it('spreads the queues over the masters, every key of a queue in its one slot', async () => {
    const owners = await Promise.all(
      QUEUE_NAMES.map(async (q) => (await s.redisCluster!.serverOf(queueKey(q, 'wait'))).port),
    );
    for (const q of QUEUE_NAMES) {
      const slot = (k: string) => s.redisCluster!.admin().cluster('KEYSLOT', k);
      expect(await slot(queueKey(q, 'pay_x'))).toBe(await slot(queueKey(q, 'events')));
    }
    say(`queue -> master port: ${QUEUE_NAMES.map((q, i) => `${q}=${owners[i]}`).join(', ')}`);
    expect(new Set(owners).size).toBeGreaterThan(1);
  });

  it('runs the scenario end to end, and no node refused the services anything', () => {
    expect(refusedByAcl).toEqual([]);
    expect(log.checks.filter((c) => !c.ok)).toEqual([]);
    expect(log.checks.length).toBeGreaterThanOrEqual(10);
  });

  it("holds the breach drill's Redis layer on every node's ACL", () => {
    expect(drill.failures).toEqual([]);
    expect(drill.rows.some((r) => r.expected === 'allow' && r.ok)).toBe(true);
    expect(drill.rows.filter((r) => /enqueue into payments/.test(r.capability)).length).toBe(3);
  });

  it('a master killed under load: its queues stop, new work is stored (the outbox queues it when the master returns), nothing is lost or charged twice', async () => {
    const cluster = s.redisCluster!;
    const master = await cluster.serverOf(queueKey('payments', 'wait'));
    // a slow provider and twice the worker's concurrency: when the master dies some jobs are
    // in a provider call and the rest wait in Redis
    await s.sandbox.admin.setFault({ response_delay_ms: 1500 });
    const accepted: string[] = [];
    for (let i = 1; i <= 16; i += 1) {
      const r = await pay(`cluster-load-${i}`);
      expect(r.status).toBe(202);
      accepted.push(r.id!);
    }
    await waitFor('the first charge of the load', async () =>
      (await charged(accepted)) > 0 ? true : undefined,
    );
    await master.kill('SIGKILL');
    const killedAt = Date.now();
    const atKill = await charged(accepted);
    const during: string[] = [];
    const storedWhileDown: string[] = [];
    for (let i = 1; i <= 3; i += 1) {
      const r = await pay(`cluster-down-${i}`);
      during.push(`${r.status}${r.code ? ` ${r.code}` : ''}`);
      if (r.id) storedWhileDown.push(r.id);
    }
    await new Promise((r) => setTimeout(r, 4000));
    const whileDown = await charged(accepted);
    say(`POST /payments while the {payments} master is down: ${during.join(', ')}`);
    say(`load charged: ${atKill}/16 when the master died, ${whileDown}/16 four seconds later`);

    await master.restart();
    await cluster.waitHealthy();
    const backAt = Date.now();
    await s.sandbox.admin.setFault({ response_delay_ms: 0 });
    const all = [...accepted, ...storedWhileDown];
    await waitFor(
      `${all.length} accepted payments charged`,
      async () => ((await charged(all)) === all.length ? true : undefined),
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    say(
      `master down ${((backAt - killedAt) / 1000).toFixed(1)} s (kill, restart, cluster_state:ok); the rest of the load charged ${((Date.now() - backAt) / 1000).toFixed(1)} s after it returned`,
    );
    // what was waiting in the dead master's slot did not run until it came back
    expect(whileDown).toBeLessThan(accepted.length);
    for (const id of all) expect({ id, charges: await chargesOf(id) }).toEqual({ id, charges: 1 });
    // every request while it was down was taken: stored in PostgreSQL, queued once it returned
    expect(during).toEqual(Array(3).fill('202'));
  });
});
