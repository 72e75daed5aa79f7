import {
  AuthError,
  CredentialSet,
  TokenManager,
  type Clock,
  type RefreshPolicy,
  type TokenManagerOptions,
} from './index';

/**
 * Behaviour the real authorization server cannot produce on demand (exact request counts under
 * a fake clock, malformed bodies, a hanging endpoint) is driven through an in-process token
 * endpoint. Everything else is tested against the sandbox in auth.integration.spec.ts.
 */
class FakeClock implements Clock {
  t = 0;
  now() {
    return this.t;
  }
  advance(seconds: number) {
    this.t += seconds * 1000;
  }
}

type Reply = { status: number; body: unknown } | 'hang' | 'network';

function stubEndpoint(reply: (form: URLSearchParams, auth: string | null, n: number) => Reply) {
  const calls: { form: URLSearchParams; auth: string | null }[] = [];
  const fetchImpl = (async (_url: string, init: RequestInit) => {
    const form = new URLSearchParams(String(init.body));
    const auth = new Headers(init.headers).get('authorization');
    calls.push({ form, auth });
    const r = reply(form, auth, calls.length);
    if (r === 'network') throw new TypeError('fetch failed');
    if (r === 'hang') {
      return new Promise((_, reject) =>
        init.signal?.addEventListener('abort', () => reject(init.signal?.reason)),
      );
    }
    return new Response(typeof r.body === 'string' ? r.body : JSON.stringify(r.body), {
      status: r.status,
      headers: { 'content-type': 'application/json' },
    });
  }) as unknown as typeof fetch;
  return { calls, fetchImpl };
}

let n = 0;
const ok = (expiresIn = 900, extra: Record<string, unknown> = {}) => ({
  status: 200,
  body: {
    access_token: `tok-${++n}`,
    token_type: 'Bearer',
    expires_in: expiresIn,
    scope: 'payments:write',
    ...extra,
  },
});

function manager(
  fetchImpl: typeof fetch,
  clock: Clock,
  refresh: Partial<RefreshPolicy> = {},
  more: Partial<TokenManagerOptions> = {},
) {
  return new TokenManager({
    issuer: 'https://as.test',
    clients: [
      {
        name: 'provider',
        credentials: new CredentialSet({ clientId: 'payment-service', clientSecret: 'secret-1' }),
        scopes: ['payments:write'],
      },
    ],
    refresh,
    clock,
    random: () => 0.5,
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
    fetchImpl,
    ...more,
  });
}

describe('TokenManager (stub endpoint, fake clock)', () => {
  it('makes one token request for 10,000 concurrent cold callers', async () => {
    const { calls, fetchImpl } = stubEndpoint(() => ok());
    const tm = manager(fetchImpl, new FakeClock());
    const tokens = await Promise.all(Array.from({ length: 10_000 }, () => tm.getToken('provider')));
    expect(calls).toHaveLength(1);
    expect(new Set(tokens.map((t) => t.value)).size).toBe(1);
    expect(calls[0].auth).toMatch(/^Basic /); // client_secret_basic by default
    expect(calls[0].form.get('client_secret')).toBeNull();
  });

  it('reproduces seed 000: refresh at 800 s of a 900 s token', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = stubEndpoint(() => ok(900));
    const tm = manager(fetchImpl, clock, { hardBufferSeconds: 100, backgroundWindowSeconds: 0 });
    const first = await tm.getToken('provider');
    clock.advance(799);
    expect((await tm.getToken('provider')).value).toBe(first.value);
    clock.advance(1);
    expect((await tm.getToken('provider')).value).not.toBe(first.value);
    expect(calls).toHaveLength(2);
  });

  it('reproduces seed 004: a 300 s buffer on a 3600 s token', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = stubEndpoint(() => ok(3600));
    const tm = manager(fetchImpl, clock, { hardBufferSeconds: 300, backgroundWindowSeconds: 0 });
    await tm.getToken('provider');
    clock.advance(3299);
    await tm.getToken('provider');
    expect(calls).toHaveLength(1);
    clock.advance(1);
    await tm.getToken('provider');
    expect(calls).toHaveLength(2);
  });

  it('renews in the background so that callers never wait once a token exists', async () => {
    const clock = new FakeClock();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((r) => (release = r));
    let count = 0;
    const fetchImpl = (async () => {
      count += 1;
      if (count === 2) await gate; // the background renewal is slow
      return new Response(JSON.stringify(ok(900).body), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    }) as unknown as typeof fetch;
    const tm = manager(fetchImpl, clock);
    const first = await tm.getToken('provider');
    clock.advance(790); // past the background point (720-780 s), before the hard buffer (840 s)
    const during = await tm.getToken('provider'); // served at once, renewal started
    expect(during.value).toBe(first.value);
    expect(count).toBe(2);
    release();
    await new Promise((r) => setTimeout(r, 10));
    expect((await tm.getToken('provider')).value).not.toBe(first.value);
    expect(count).toBe(2);
  });

  it('needs at most 5 token requests for one simulated hour of steady calls at a 900 s TTL', async () => {
    const clock = new FakeClock();
    const { calls, fetchImpl } = stubEndpoint(() => ok(900));
    const tm = manager(fetchImpl, clock);
    for (let s = 0; s < 3600; s += 1) {
      await tm.getToken('provider');
      clock.advance(1);
    }
    expect(calls.length).toBeLessThanOrEqual(5);
  });

  it('keeps serving a still-valid token while the endpoint fails, and fails clearly without one', async () => {
    const clock = new FakeClock();
    let down = false;
    const { calls, fetchImpl } = stubEndpoint(() =>
      down ? { status: 503, body: { error: 'temporarily_unavailable' } } : ok(900),
    );
    const tm = manager(fetchImpl, clock);
    const first = await tm.getToken('provider');
    down = true;
    clock.advance(790);
    expect((await tm.getToken('provider')).value).toBe(first.value);
    clock.advance(200); // expired
    await expect(tm.getToken('provider')).rejects.toMatchObject({
      code: 'TOKEN_ENDPOINT_UNAVAILABLE',
    });
    const before = calls.length;
    down = false;
    await tm.getToken('provider');
    expect(calls.length).toBe(before + 1);
  });

  it('does not retry invalid_client in a loop, but falls back to the next credential when there is one', async () => {
    const { calls, fetchImpl } = stubEndpoint((_f, auth) =>
      decodeURIComponent(Buffer.from(String(auth).slice(6), 'base64').toString()) ===
      'payment-service:secret-2'
        ? ok()
        : { status: 401, body: { error: 'invalid_client' } },
    );
    const clock = new FakeClock();
    const tm = manager(fetchImpl, clock);
    await expect(tm.getToken('provider')).rejects.toMatchObject({ code: 'INVALID_CLIENT' });
    await expect(tm.getToken('provider')).rejects.toMatchObject({ code: 'INVALID_CLIENT' });
    expect(calls).toHaveLength(1); // cooldown: the second call did not hit the endpoint

    const creds = new CredentialSet(
      { clientId: 'payment-service', clientSecret: 'secret-1' },
      { clientId: 'payment-service', clientSecret: 'secret-2' },
    );
    const rotating = new TokenManager({
      issuer: 'https://as.test',
      clients: [{ name: 'provider', credentials: creds, scopes: ['payments:write'] }],
      clock,
      fetchImpl,
    });
    expect((await rotating.getToken('provider')).value).toMatch(/^tok-/);
    expect(creds.current().clientSecret).toBe('secret-2');
  });

  it('types malformed responses and a hanging endpoint', async () => {
    const bad = stubEndpoint(() => ({ status: 200, body: '<html>oops' }));
    await expect(
      manager(bad.fetchImpl, new FakeClock()).getToken('provider'),
    ).rejects.toBeInstanceOf(AuthError);
    const noExpiry = stubEndpoint(() => ({
      status: 200,
      body: { access_token: 'x', token_type: 'Bearer' },
    }));
    await expect(
      manager(noExpiry.fetchImpl, new FakeClock()).getToken('provider'),
    ).rejects.toMatchObject({ code: 'TOKEN_RESPONSE_MALFORMED' });
    const hang = stubEndpoint(() => 'hang');
    await expect(
      manager(hang.fetchImpl, new FakeClock(), {}, { requestTimeoutMs: 50 }).getToken('provider'),
    ).rejects.toMatchObject({ code: 'TOKEN_ENDPOINT_UNAVAILABLE' });
    expect(hang.calls).toHaveLength(3); // bounded retries
  });

  it('uses a refresh token when one was issued and falls back to client credentials when it is refused', async () => {
    const clock = new FakeClock();
    const used = new Set<string>();
    const { calls, fetchImpl } = stubEndpoint((form) => {
      if (form.get('grant_type') === 'refresh_token') {
        const rt = String(form.get('refresh_token'));
        if (used.has(rt)) return { status: 400, body: { error: 'invalid_grant' } }; // expired by now
        used.add(rt);
        return ok(900);
      }
      return ok(900, { refresh_token: calls.length === 1 ? 'rt-1' : 'rt-2' });
    });
    const tm = manager(fetchImpl, clock);
    await tm.getToken('provider');
    clock.advance(850);
    await tm.getToken('provider');
    expect(calls[1].form.get('grant_type')).toBe('refresh_token');
    clock.advance(850);
    await tm.getToken('provider'); // rt-1 used again, now refused -> client credentials
    expect(calls.slice(2).map((c) => c.form.get('grant_type'))).toEqual([
      'refresh_token',
      'client_credentials',
    ]);
  });

  it('counts requests, refreshes, failures and cache hits per client', async () => {
    const clock = new FakeClock();
    const { fetchImpl } = stubEndpoint(() => ok());
    const tm = manager(fetchImpl, clock);
    await tm.getToken('provider');
    await tm.getToken('provider');
    const text = await tm.metrics.registry.metrics();
    expect(text).toMatch(
      /lpi_token_requests_total\{client="provider",grant="client_credentials"\} 1/,
    );
    expect(text).toMatch(/lpi_token_cache_hits_total\{client="provider"\} 1/);
    expect(text).toMatch(/lpi_token_seconds_to_expiry\{client="provider"\} 900/);
  });
});

describe('TokenManager hit path (monotonic clock: a timer ends each hot entry)', () => {
  beforeEach(() =>
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }),
  );
  afterEach(() => jest.useRealTimers());
  const flush = () => new Promise((r) => setImmediate(r));

  it('serves one settled promise until the refresh time, then renews in the background', async () => {
    const { calls, fetchImpl } = stubEndpoint(() => ok(900));
    const tm = manager(fetchImpl, undefined as unknown as Clock); // the default monotonic clock
    const first = await tm.getToken('provider');
    const hit = tm.getToken('provider');
    expect(tm.getToken('provider')).toBe(hit); // nothing allocated per hit
    expect(await hit).toBe(first);
    jest.advanceTimersByTime(749_000); // refresh time: 840 s - 120 s + 30 s jitter = 750 s
    expect(await tm.getToken('provider')).toBe(first);
    expect(calls).toHaveLength(1);
    jest.advanceTimersByTime(2_000);
    expect(await tm.getToken('provider')).toBe(first); // due: served while renewing
    await flush();
    expect(calls).toHaveLength(2);
    const second = await tm.getToken('provider');
    expect(second.value).not.toBe(first.value);
    expect(tm.getToken('provider')).toBe(tm.getToken('provider'));
    const text = await tm.metrics.registry.metrics();
    expect(text).toMatch(/lpi_token_cache_hits_total\{client="provider"\} 7/);
    tm.close();
  });

  it('stops serving an invalidated token and a rotated credential at once', async () => {
    const { calls, fetchImpl } = stubEndpoint(() => ok(900));
    const credentials = new CredentialSet({ clientId: 'payment-service', clientSecret: 's-1' });
    const clients = [{ name: 'provider', credentials, scopes: ['payments:write'] }];
    const tm = manager(fetchImpl, undefined as unknown as Clock, {}, { clients });
    const first = await tm.getToken('provider');
    tm.invalidate('provider', first.value);
    const second = await tm.getToken('provider');
    expect(second.value).not.toBe(first.value);
    credentials.update({ clientId: 'payment-service', clientSecret: 's-2' });
    const third = await tm.getToken('provider');
    expect(third.value).not.toBe(second.value);
    expect(calls).toHaveLength(3);
    tm.close();
  });
});
