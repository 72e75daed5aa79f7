import { Controller, Get, Module, Post } from '@nestjs/common';
import { Writable } from 'node:stream';
import {
  AppError,
  ConfigError,
  ServiceBootstrapModule,
  createLogger,
  loadConfig,
  setting,
  startService,
  shutdownGracefully,
} from './index';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { lines, stream, text: () => lines.join('') };
}

describe('loadConfig', () => {
  const shape = {
    PORT: setting.port(),
    PROVIDER_URL: setting.url(),
    LOG_LEVEL: setting.logLevel(),
  };

  it('names every missing or invalid setting and never echoes values', () => {
    let err: unknown;
    try {
      loadConfig('payment-service', shape, { PORT: 'not-a-port-s3cr3t', LOG_LEVEL: 'loud' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const message = (err as Error).message;
    expect(message).toMatch(/PORT: must be a TCP port number/);
    expect(message).toMatch(/PROVIDER_URL: is required but not set/);
    expect(message).toMatch(/LOG_LEVEL/);
    expect(message).not.toContain('s3cr3t');
  });

  it('returns typed values', () => {
    expect(loadConfig('x', shape, { PORT: '8080', PROVIDER_URL: 'https://p.example' })).toEqual({
      PORT: 8080,
      PROVIDER_URL: 'https://p.example',
      LOG_LEVEL: 'info',
    });
  });
});

describe('logger redaction', () => {
  it('redacts secrets by key and by shape', () => {
    const out = capture();
    const log = createLogger({ service: 't', destination: out.stream });
    const jwt = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJwYXltZW50LXNlcnZpY2UifQ.c2lnbmF0dXJlLXZhbHVl';
    const label = ['PRIVATE', 'KEY'].join(' ');
    const pem = `-----BEGIN ${label}-----\nMIGHAgEAMBMGByqGSM49\n-----END ${label}-----`;
    log.info(
      {
        req: { headers: { authorization: 'Basic cGF5bWVudDpzM2NyM3Q=' } },
        client_secret: 'topsecret1',
      },
      'a',
    );
    // secret keys one level down, beside plain fields
    log.info(
      { body: { password: 'nestedpw1', amount: 5 }, config: { token: 'cfgtok1' }, n: 1 },
      'b',
    );
    log.warn({ detail: `upstream said Bearer ${jwt}` }, `token ${jwt} rejected`);
    log.error({ err: new Error(`bad key ${pem}`) }, 'failed');
    // the shapes are scrubbed from the finished line: deep fields, arrays, format arguments,
    // child bindings and serialized output are all covered
    const vault = `hvs.${'A1b2C3d4E5f6G7h8'.repeat(2)}`;
    const whsec = `whsec_${Buffer.from('signing-secret-bytes').toString('base64')}`;
    log.info({ a: { b: { c: { d: [`x ${vault}`] } } } }, 'deep');
    log.info('format %s and %j', jwt, { nested: whsec });
    log.child({ upstream: `Bearer ${jwt}` }).info('child');
    const text = out.text();
    for (const s of [
      'cGF5bWVudDpzM2NyM3Q=',
      'topsecret1',
      'nestedpw1',
      'cfgtok1',
      jwt,
      'MIGHAgEAMBMGByqGSM49',
      vault,
      whsec,
      whsec.slice(6),
    ])
      expect(text).not.toContain(s);
    expect(text).toContain('[REDACTED]');
    expect(text).toContain('"amount":5');
    // every line is still valid JSON after scrubbing
    for (const line of text.trim().split('\n')) expect(() => JSON.parse(line)).not.toThrow();
  });
});

@Controller('things')
class ThingsController {
  @Get('boom')
  boom() {
    throw new Error('database password is hunter2');
  }
  @Post()
  create() {
    throw new AppError(422, 'invalid_request_error', 'thing_invalid', 'thing is invalid');
  }
}
@Module({
  imports: [
    ServiceBootstrapModule.forService({ service: 'test', logDestination: capture().stream }),
  ],
  controllers: [ThingsController],
})
class TestModule {}

describe('startService', () => {
  it('serves health endpoints and wraps every error in the envelope', async () => {
    const app = await startService({ service: 'test', module: TestModule, port: 0 });
    const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
    try {
      expect((await fetch(`${base}/health/live`)).status).toBe(200);
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);

      const boom = await fetch(`${base}/things/boom`);
      expect(boom.status).toBe(500);
      const body = await boom.json();
      expect(body).toEqual({
        error: {
          type: 'api_error',
          code: 'internal_error',
          message: 'internal error',
          request_id: expect.any(String),
        },
      });

      const typed = await fetch(`${base}/things`, { method: 'POST' });
      expect(typed.status).toBe(422);
      expect(((await typed.json()) as { error: { code: string } }).error.code).toBe(
        'thing_invalid',
      );

      const malformed = await fetch(`${base}/things`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{nope',
      });
      expect(malformed.status).toBe(400);
      expect(((await malformed.json()) as { error: { code: string } }).error.code).toBe(
        'malformed_request',
      );

      for (const [text, requestId] of [
        ['\u0000', ''],
        ['"4242424242424242', 'has space'],
        ['{"a":1}x', 'x'.repeat(65)],
      ]) {
        const odd = await fetch(`${base}/things`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-request-id': requestId },
          body: text,
        });
        const envelope = (await odd.json()) as { error: { message: string; request_id: string } };
        expect({ status: odd.status, ...envelope.error }).toEqual({
          status: 400,
          type: 'invalid_request_error',
          code: 'malformed_request',
          message: 'request body is not valid JSON',
          request_id: expect.stringMatching(/^req_[0-9a-f-]{36}$/),
        });
      }

      // refused before Nest sees it: the same id in the header and the envelope
      const tooLarge = await fetch(`${base}/things`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-big-1' },
        body: JSON.stringify({ a: 'x'.repeat(70_000) }),
      });
      expect(tooLarge.status).toBe(413);
      expect(tooLarge.headers.get('x-request-id')).toBe('req-big-1');
      expect(((await tooLarge.json()) as { error: { request_id: string } }).error.request_id).toBe(
        'req-big-1',
      );

      const missing = await fetch(`${base}/nowhere`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { error: { type: string } }).error.type).toBe(
        'not_found_error',
      );
    } finally {
      await shutdownGracefully(app);
    }
  });
});
