import { X509Certificate } from 'node:crypto';
import { createServer, connect, type TLSSocket } from 'node:tls';
import { createDevPki } from './dev-pki';

describe('createDevPki', () => {
  it('issues certificates that a real TLS handshake accepts, and a rogue one it does not', async () => {
    const pki = await createDevPki(['payment-service']);
    const ca = new X509Certificate(pki.caCert);
    expect(new X509Certificate(pki.clients['payment-service'].cert).verify(ca.publicKey)).toBe(
      true,
    );
    expect(new X509Certificate(pki.rogue.cert).verify(ca.publicKey)).toBe(false);

    const server = createServer(
      {
        cert: pki.server.cert,
        key: pki.server.key,
        ca: pki.caCert,
        requestCert: true,
        rejectUnauthorized: false,
      },
      (socket: TLSSocket) => {
        socket.end(
          `${socket.authorized ? 'trusted' : 'untrusted'}:${socket.getPeerX509Certificate()?.subject}`,
        );
      },
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const hello = (pair: { cert: string; key: string }) =>
      new Promise<string>((resolve, reject) => {
        const s = connect(
          { port, host: '127.0.0.1', servername: 'localhost', ca: pki.caCert, ...pair },
          () => undefined,
        );
        let out = '';
        s.on('data', (d) => (out += d));
        s.on('end', () => resolve(out));
        s.on('error', reject);
      });
    try {
      expect(await hello(pki.clients['payment-service'])).toBe('trusted:CN=payment-service');
      expect(await hello(pki.rogue)).toMatch(/^untrusted:/);
    } finally {
      server.close();
    }
  });
});
