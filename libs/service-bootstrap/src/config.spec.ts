import { z } from 'zod';
import { ConfigError, loadConfig, refuseUnknownSettings, setting } from './config';

describe('loadConfig', () => {
  it('names every bad setting and never echoes a value', () => {
    const run = () =>
      loadConfig(
        'svc',
        { PORT: setting.port(), VAULT_ADDR: setting.url() },
        {
          PORT: 'hunter2-not-a-port',
        },
      );
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/PORT: must be a TCP port number/);
    expect(run).toThrow(/VAULT_ADDR: is required but not set/);
    expect(run).not.toThrow(/hunter2/);
  });
});

describe('refuseUnknownSettings', () => {
  const known = ['VAULT_ADDR', 'REDIS_HOST'];

  it('refuses a variable with a project prefix that no schema reads, by name', () => {
    const run = () =>
      refuseUnknownSettings('payment-service', known, {
        VAULT_ADDR: 'https://vault:8200',
        VAULT_CACRET: '/etc/ca.pem',
        PROVIDER_AUDIENCE: 'https://api.example/v1',
      });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/PROVIDER_AUDIENCE: is not a setting of this service/);
    expect(run).toThrow(/VAULT_CACRET: is not a setting of this service/);
    expect(run).not.toThrow(/api\.example|etc\/ca/);
  });

  it('leaves alone what it reads and what has no project prefix', () => {
    expect(() =>
      refuseUnknownSettings('payment-service', known, {
        VAULT_ADDR: 'x',
        REDIS_HOST: 'y',
        PATH: '/usr/bin',
        HOME: '/home/app',
        NODE_OPTIONS: '--enable-source-maps',
      }),
    ).not.toThrow();
  });

  it('uses the same names a schema declares', () => {
    const shape = { VAULT_ADDR: setting.url(), QUEUE_CONCURRENCY: z.string().optional() };
    expect(() =>
      refuseUnknownSettings('svc', Object.keys(shape), { QUEUE_CONCURRENCY: '4' }),
    ).not.toThrow();
  });
});
