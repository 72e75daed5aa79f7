import Redis from 'ioredis';
import { startRedisServer } from './redis-server';

describe('startRedisServer', () => {
  it('starts a private server and removes it on stop', async () => {
    const redis = await startRedisServer();
    const admin = redis.admin();
    await admin.set('k', 'v');
    expect(await admin.get('k')).toBe('v');
    await redis.stop();
    const probe = new Redis({ port: redis.port, lazyConnect: true, retryStrategy: () => null });
    probe.on('error', () => undefined);
    await expect(probe.connect()).rejects.toThrow();
    probe.disconnect();
  });

  it('loads an ACL file and enforces it', async () => {
    const redis = await startRedisServer({
      acl: [
        'user default off',
        'user admin on >admin-pw ~* &* +@all',
        'user app on >app-pw ~app:* +get +set',
      ].join('\n'),
      adminUser: { username: 'admin', password: 'admin-pw' },
    });
    try {
      const app = new Redis({ port: redis.port, username: 'app', password: 'app-pw' });
      await app.set('app:1', 'x');
      await expect(app.set('other:1', 'x')).rejects.toThrow(/NOPERM/);
      app.disconnect();
      expect(await redis.admin().exists('other:1')).toBe(0);
    } finally {
      await redis.stop();
    }
  });

  it('keeps data across a restart when append-only is on', async () => {
    const redis = await startRedisServer({ appendOnly: true });
    try {
      await redis.admin().set('survives', '1');
      await redis.restart();
      expect(await redis.admin().get('survives')).toBe('1');
    } finally {
      await redis.stop();
    }
  });
});
