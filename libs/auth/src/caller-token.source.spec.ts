import { SignJWT, generateKeyPair, type CryptoKey } from 'jose';
import { AuthError, CallerTokenSource, type Clock } from './index';

/**
 * Counts and timing under a fake clock need a stubbed Vault; minting against vault-dev for
 * real is in tools/demo/callers.integration.spec.ts.
 */
class FakeClock implements Clock {
  t = 0;
  now() {
    return this.t;
  }
}

let key: CryptoKey;
beforeAll(async () => {
  ({ privateKey: key } = await generateKeyPair('RS256'));
});

function stubVault(reply: (path: string, n: number) => { status: number; ttl?: number }) {
  const paths: string[] = [];
  const fetchImpl = (async (url: string, init: RequestInit) => {
    const path = new URL(url).pathname;
    paths.push(path);
    expect(new Headers(init.headers).get('x-vault-token')).toBe('caller-vault-token');
    const r = reply(path, paths.length);
    await new Promise((res) => setTimeout(res, 5));
    if (r.status !== 200)
      return new Response(JSON.stringify({ errors: ['permission denied'] }), { status: r.status });
    const iat = 1_700_000_000;
    const token = await new SignJWT({ n: paths.length })
      .setProtectedHeader({ alg: 'RS256', kid: 'k' })
      .setIssuedAt(iat)
      .setExpirationTime(iat + (r.ttl ?? 300))
      .sign(key);
    return new Response(JSON.stringify({ data: { token, ttl: 3600, client_id: 'x' } }), {
      status: 200,
    });
  }) as unknown as typeof fetch;
  return { paths, fetchImpl };
}

const source = (fetchImpl: typeof fetch, clock: Clock) =>
  new CallerTokenSource({
    vaultAddr: 'http://vault.test:8200/',
    caller: 'support-console',
    vaultToken: () => 'caller-vault-token',
    fetchImpl,
    clock,
    random: () => 0,
  });

describe('CallerTokenSource (stub Vault, fake clock)', () => {
  it('mints once per role for many concurrent callers, and caches per role', async () => {
    const clock = new FakeClock();
    const vault = stubVault(() => ({ status: 200 }));
    const s = source(vault.fetchImpl, clock);
    const tokens = await Promise.all(Array.from({ length: 100 }, () => s.token('refund-service')));
    expect(new Set(tokens).size).toBe(1);
    await s.token('payment-service');
    await s.token('refund-service');
    expect(vault.paths).toEqual([
      '/v1/identity/oidc/token/support-console-to-refund-service',
      '/v1/identity/oidc/token/support-console-to-payment-service',
    ]);
  });

  it("renews in the background before expiry (by the token's own exp - iat), callers never wait", async () => {
    const clock = new FakeClock();
    const vault = stubVault(() => ({ status: 200, ttl: 300 }));
    const s = source(vault.fetchImpl, clock);
    const first = await s.token('refund-service');
    clock.t = 200_000; // before the refresh time (hard buffer 30 s, window 60 s: 210 s)
    expect(await s.token('refund-service')).toBe(first);
    expect(vault.paths).toHaveLength(1);
    clock.t = 230_000; // inside the background window: served at once, renewed behind
    expect(await s.token('refund-service')).toBe(first);
    expect(vault.paths).toHaveLength(2);
    let second = first;
    while (second === first) {
      await new Promise((r) => setImmediate(r)); // let the renewal land
      second = await s.token('refund-service');
    }
    expect(vault.paths).toHaveLength(2);
    clock.t = 230_000 + 275_000; // past the renewed token's hard buffer: callers wait for a new one
    expect(await s.token('refund-service')).not.toBe(second);
    expect(vault.paths).toHaveLength(3);
  });

  it('types a refusal and an outage, and never quotes a token', async () => {
    const refused = source(stubVault(() => ({ status: 403 })).fetchImpl, new FakeClock());
    await expect(refused.token('reporting-service')).rejects.toMatchObject({
      code: 'IDENTITY_TOKEN_REFUSED',
    });
    const down = source(
      (async () => {
        throw new TypeError('fetch failed');
      }) as unknown as typeof fetch,
      new FakeClock(),
    );
    const err = (await down.token('refund-service').catch((e: unknown) => e)) as AuthError;
    expect(err).toBeInstanceOf(AuthError);
    expect(err.code).toBe('IDENTITY_TOKEN_UNAVAILABLE');
    expect(err.retryable).toBe(true);
  });
});
