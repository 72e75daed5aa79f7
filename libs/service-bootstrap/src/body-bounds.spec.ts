import { Agent, createServer, request, STATUS_CODES, type Server } from 'node:http';
import { connect } from 'node:net';
import { boundRequestBodies, envelopeRefusal } from './body-bounds';

const LIMIT = 64 * 1024;

/** A listener that answers without reading the body, bounded like every edge. */
async function earlyAnswering(): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify({ path: req.url }));
  });
  boundRequestBodies(server, LIMIT, envelopeRefusal);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function send(
  port: number,
  agent: Agent,
  method: string,
  path: string,
  body?: Buffer,
): Promise<{ status: number; connection?: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          connection: res.headers.connection,
          body: Buffer.concat(chunks).toString(),
        }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

function raw(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('close', () => resolve(Buffer.concat(chunks).toString()));
    sock.on('error', () => undefined);
    sock.write(text);
  });
}

describe('edge connections after an early answer', () => {
  let edge: { server: Server; port: number };
  beforeAll(async () => {
    edge = await earlyAnswering();
  });
  afterAll(() => new Promise((resolve) => edge.server.close(resolve)));

  it('tells a keep-alive client to reconnect when the body was left unread, so its next request succeeds', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await send(edge.port, agent, 'POST', '/first', Buffer.alloc(48 * 1024, 0x61));
      const second = await send(edge.port, agent, 'GET', '/second');
      expect([first.status, first.connection, second.status, second.body]).toEqual([
        200,
        'close',
        200,
        '{"path":"/second"}',
      ]);
    } finally {
      agent.destroy();
    }
  });

  it('answers a body declared over the limit with 413 in the envelope, unread', async () => {
    const answer = await raw(
      edge.port,
      `POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${1024 ** 3}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(answer).toMatch(/\r\nconnection: close\r\n/i);
    expect(answer).toContain('"code":"payload_too_large"');
  });

  it.each([
    ['an unknown method', 'LIST / HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'malformed_request'],
    [
      'conflicting lengths',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      400,
      'malformed_request',
    ],
    [
      'an Expect it does not support',
      'POST / HTTP/1.1\r\nHost: x\r\nExpect: x\r\nContent-Length: 3\r\n\r\n',
      417,
      'expectation_failed',
    ],
    [
      'headers past the parser limit',
      `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'headers_too_large',
    ],
  ])('answers %s in the envelope, not a bare status', async (_what, text, status, code) => {
    const answer = await raw(edge.port, text);
    expect(answer.split('\r\n')[0]).toBe(`HTTP/1.1 ${status} ${STATUS_CODES[status]}`);
    expect(answer).toContain(`"code":"${code}"`);
  });
});
