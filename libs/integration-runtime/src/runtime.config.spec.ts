import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readRuntimeConfig } from './runtime.config';
import { SERVICE_SETTING_NAMES, refuseSettingsNoServiceReads } from './settings.config';

describe('runtime config', () => {
  let dir: string;
  let env: Record<string, string>;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'lpi-runtime-config-'));
    writeFileSync(join(dir, 'ca.crt'), 'not checked here');
    env = {
      PORT: '3101',
      PROVIDER_ISSUER: 'https://as.example',
      PROVIDER_API_URL: 'https://api.example',
      PROVIDER_CA_FILE: join(dir, 'ca.crt'),
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('fills production defaults', () => {
    expect(readRuntimeConfig('payment-service', env)).toMatchObject({
      QUEUE_CONCURRENCY: 8,
      QUEUE_LOCK_MS: 30_000,
      JOB_BACKOFF_MS: 1000,
      JOB_BACKOFF_CAP_MS: 60_000,
      JOB_RETRY_FOR_MS: 43_200_000,
      PROVIDER_RATE_LIMIT_PER_MINUTE: 50,
      PROVIDER_TOKEN_MODE: 'managed',
    });
  });

  it('refuses a retry window that outlives the provider idempotency keys', () => {
    expect(() =>
      readRuntimeConfig('payment-service', { ...env, JOB_RETRY_FOR_MS: String(24 * 3600_000) }),
    ).toThrow(/JOB_RETRY_FOR_MS must be at most .* charge twice/);
  });

  it('takes Redis Cluster seed nodes, and names a bad list', () => {
    expect(
      readRuntimeConfig('payment-service', {
        ...env,
        REDIS_CLUSTER_NODES: 'redis-0:6379, 10.0.0.7:7001',
      }).REDIS_CLUSTER_NODES,
    ).toEqual([
      { host: 'redis-0', port: 6379 },
      { host: '10.0.0.7', port: 7001 },
    ]);
    expect(readRuntimeConfig('payment-service', env).REDIS_CLUSTER_NODES).toBeUndefined();
    for (const bad of ['', 'redis-0', 'redis-0:6379,', 'redis-0:99999', 'a:1;b:2'])
      expect(() =>
        readRuntimeConfig('payment-service', { ...env, REDIS_CLUSTER_NODES: bad }),
      ).toThrow(/REDIS_CLUSTER_NODES: must be host:port/);
  });

  it('names a bad setting', () => {
    expect(() => readRuntimeConfig('payment-service', { ...env, QUEUE_CONCURRENCY: '0' })).toThrow(
      /QUEUE_CONCURRENCY/,
    );
    expect(() =>
      readRuntimeConfig('payment-service', { ...env, PROVIDER_TOKEN_MODE: 'static' }),
    ).toThrow(/PROVIDER_TOKEN_MODE/);
    expect(() =>
      readRuntimeConfig('payment-service', { ...env, PROVIDER_CA_FILE: join(dir, 'missing') }),
    ).toThrow(/PROVIDER_CA_FILE/);
  });

  it('refuses the fixed-token benchmark baseline in production', () => {
    expect(
      readRuntimeConfig('payment-service', { ...env, PROVIDER_TOKEN_MODE: 'fixed' }),
    ).toMatchObject({ PROVIDER_TOKEN_MODE: 'fixed' });
    expect(() =>
      readRuntimeConfig('payment-service', {
        ...env,
        PROVIDER_TOKEN_MODE: 'fixed',
        NODE_ENV: 'production',
      }),
    ).toThrow(/PROVIDER_TOKEN_MODE=fixed .* refused with NODE_ENV=production/);
  });

  it('takes PROVIDER_AUDIENCE as the resource the tokens are for, and only as a URL', () => {
    const audience = 'https://api.example/v1';
    expect(
      readRuntimeConfig('payment-service', { ...env, PROVIDER_AUDIENCE: audience }),
    ).toMatchObject({ PROVIDER_AUDIENCE: audience });
    expect(() =>
      readRuntimeConfig('payment-service', { ...env, PROVIDER_AUDIENCE: 'api.example' }),
    ).toThrow(/PROVIDER_AUDIENCE: must be an absolute URL/);
  });

  it('refuses at start-up a project variable that no schema of the service reads', () => {
    expect(SERVICE_SETTING_NAMES).toEqual(
      expect.arrayContaining(['VAULT_CACERT', 'PROVIDER_AUDIENCE', 'CALLER_TOKEN_ISSUER', 'PORT']),
    );
    expect(() =>
      refuseSettingsNoServiceReads('payment-service', { ...env, VAULT_CACERT: 'x' }),
    ).not.toThrow();
    expect(() =>
      refuseSettingsNoServiceReads('payment-service', { ...env, REDIS_PASSWORD: 'x' }),
    ).toThrow(/REDIS_PASSWORD: is not a setting of this service/);
  });
});
