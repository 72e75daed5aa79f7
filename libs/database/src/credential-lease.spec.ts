import { CredentialLease, type LeaseSource } from './credential-lease';

/** A Vault stand-in for the lease rules: what each read and renewal answers, and what was asked. */
function fakeVault(ttlSeconds = 30) {
  let reads = 0;
  let onNewToken: () => void = () => undefined;
  const calls: string[] = [];
  const answers: (() => Promise<{ leaseDurationSeconds: number; capped: boolean }>)[] = [];
  const source: LeaseSource = {
    readLease: async () => {
      reads += 1;
      calls.push(`read ${reads}`);
      return {
        leaseId: `database/creds/svc/lease${reads}`,
        leaseDurationSeconds: ttlSeconds,
        renewable: true,
        data: { username: `v-user-${reads}`, password: `pw-${reads}` },
      };
    },
    renewLease: async (leaseId, increment) => {
      calls.push(`renew ${leaseId.split('/').pop()} +${increment}`);
      const next = answers.shift();
      return next ? next() : { leaseDurationSeconds: increment, capped: false };
    },
    watchSession: (cb) => {
      onNewToken = cb;
      return () => undefined;
    },
  };
  return { source, calls, answers, newToken: () => onNewToken() };
}

describe("CredentialLease (the renewal rules of Vault's LifetimeWatcher)", () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  const start = async (vault: ReturnType<typeof fakeVault>) => {
    const logins: string[] = [];
    const lease = new CredentialLease(
      vault.source,
      'database/creds/svc',
      async (l) => {
        logins.push(l.username);
      },
      undefined,
      () => Date.now(),
    );
    await lease.start();
    return { lease, logins };
  };
  const advance = async (ms: number) => {
    await jest.advanceTimersByTimeAsync(ms);
  };

  it('renews at two thirds of what is left, by the lease duration, keeping the login', async () => {
    const vault = fakeVault(30);
    const { lease, logins } = await start(vault);
    await advance(19_000);
    expect(vault.calls).toEqual(['read 1']);
    await advance(2_000);
    expect(vault.calls).toEqual(['read 1', 'renew lease1 +30']);
    expect(logins).toEqual(['v-user-1']);
    lease.close();
  });

  it.each([
    [
      'Vault caps the renewal at the max TTL',
      async () => ({ leaseDurationSeconds: 7, capped: true }),
    ],
    [
      'the lease is gone',
      async () => {
        throw Object.assign(new Error('lease not found'), { code: 'LEASE_GONE' });
      },
    ],
  ])('reads a new login and hands it over when %s', async (_what, answer) => {
    const vault = fakeVault(30);
    vault.answers.push(answer);
    const { lease, logins } = await start(vault);
    await advance(21_000);
    expect(logins).toEqual(['v-user-1', 'v-user-2']);
    expect(lease.figures().rotations).toBe(2);
    lease.close();
  });

  it('reads a new login when the Vault token changes (its leases die with the old one)', async () => {
    const vault = fakeVault(30);
    const { lease, logins } = await start(vault);
    vault.newToken();
    await advance(0);
    expect(logins).toEqual(['v-user-1', 'v-user-2']);
    lease.close();
  });

  it('retries a renewal Vault could not answer, without dropping the login that still works', async () => {
    const vault = fakeVault(30);
    vault.answers.push(async () => {
      throw Object.assign(new Error('Vault unreachable'), { code: 'VAULT_UNREACHABLE' });
    });
    const { lease, logins } = await start(vault);
    await advance(21_000);
    await advance(5_000);
    expect(vault.calls.filter((c) => c.startsWith('renew'))).toHaveLength(2);
    expect(logins).toEqual(['v-user-1']);
    expect(lease.figures().ttlSeconds).toBeGreaterThan(0);
    lease.close();
  });

  it('stops renewing once closed', async () => {
    const vault = fakeVault(30);
    const { lease } = await start(vault);
    lease.close();
    await advance(120_000);
    expect(vault.calls).toEqual(['read 1']);
  });
});
