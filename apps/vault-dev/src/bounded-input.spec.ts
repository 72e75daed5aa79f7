import { connect } from 'node:net';
import fc from 'fast-check';
import { startVaultDev, type VaultDevHandle } from '@lpi/testing';
import { vaultCaller } from './spec-helpers';

const MAX = 64 * 1024;
let vault: VaultDevHandle;
const call = vaultCaller(() => vault.addr);

beforeAll(async () => {
  vault = await startVaultDev({ maxRequestSize: MAX });
  const root = vault.rootToken;
  await call('POST', 'sys/auth/approle', root, { type: 'approle' });
  await call('POST', 'auth/approle/role/fuzz', root, { token_policies: ['default'] });
  await call('POST', 'secret/data/fuzz', root, { data: { a: 'b' } });
  await call('POST', 'identity/oidc/key/fuzz', root, { allowed_client_ids: '*' });
  await call('POST', 'identity/oidc/role/fuzz', root, { key: 'fuzz', ttl: '1h' });
});
afterAll(async () => {
  await vault?.stop();
});

/** A raw HTTP/1.1 exchange: writes `head`, then `body()` chunks until the server answers or closes. */
function rawExchange(
  head: string,
  body: () => Buffer | undefined,
): Promise<{ response: string; bytesSent: number; closedByServer: boolean }> {
  const { port } = new URL(vault.addr);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    let response = '';
    let bytesSent = 0;
    let answered = false;
    socket.on('data', (d) => {
      response += d.toString('utf8');
      answered = true;
    });
    socket.on('end', () => resolve({ response, bytesSent, closedByServer: true }));
    socket.on('error', (err) =>
      answered ? resolve({ response, bytesSent, closedByServer: true }) : reject(err),
    );
    socket.on('connect', () => {
      socket.write(head);
      const pump = () => {
        while (!answered && !socket.destroyed) {
          const chunk = body();
          if (!chunk) return;
          bytesSent += chunk.length;
          if (!socket.write(chunk)) return void socket.once('drain', pump);
        }
      };
      pump();
    });
  });
}

const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
const jsonOf = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as unknown;

describe('bounded input', () => {
  it('answers 413 on a declared oversize body without reading it, then closes', async () => {
    const { response, closedByServer } = await rawExchange(
      `POST /v1/secret/data/big HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${vault.rootToken}\r\nContent-Type: application/json\r\nContent-Length: ${100 * 1024 * 1024}\r\n\r\n{"data":`,
      () => undefined,
    );
    expect(statusOf(response)).toBe(413);
    expect(response.toLowerCase()).toContain('connection: close');
    expect(jsonOf(response)).toEqual({ errors: ['http: request body too large'] });
    expect(closedByServer).toBe(true);
  });

  it('stops reading a chunked body at the limit: 413, and the client is cut off early', async () => {
    const chunk = Buffer.from(`${(16 * 1024).toString(16)}\r\n${'x'.repeat(16 * 1024)}\r\n`);
    let budget = 4096; // 64 MiB if the server never stopped
    const { response, bytesSent } = await rawExchange(
      `POST /v1/secret/data/big HTTP/1.1\r\nHost: x\r\nX-Vault-Token: ${vault.rootToken}\r\nTransfer-Encoding: chunked\r\n\r\n`,
      () => (budget-- > 0 ? chunk : undefined),
    );
    expect(statusOf(response)).toBe(413);
    expect(jsonOf(response)).toEqual({ errors: ['http: request body too large'] });
    expect(bytesSent).toBeLessThan(4096 * chunk.length);
  });

  it('refuses malformed escapes, deep or non-object JSON and wrong methods in Vault format', async () => {
    const root = vault.rootToken;
    expect(await call('GET', 'secret/data/%zz', root)).toMatchObject({
      status: 400,
      body: { errors: ['invalid URL escape "%zz"'] },
    });
    const send = async (body: string, method = 'POST', headers: Record<string, string> = {}) => {
      const res = await fetch(`${vault.addr}/v1/secret/data/fuzz`, {
        method,
        headers: { 'x-vault-token': root, 'content-type': 'application/json', ...headers },
        body,
      });
      return { status: res.status, body: (await res.json()) as unknown };
    };
    const parseError = { status: 400, body: { errors: ['error parsing JSON'] } };
    expect(await send('['.repeat(30_000) + ']'.repeat(30_000))).toEqual(parseError);
    expect(await send(`{"data":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`)).toEqual(parseError);
    expect(await send('[1,2]')).toEqual(parseError);
    expect(await send('"text"')).toEqual(parseError);
    expect(await send('42')).toEqual(parseError);
    expect(await send('{"data":')).toEqual(parseError);
    expect(await send('{"data":{"a":"b"}}', 'PATCH')).toEqual({
      status: 415,
      body: { errors: [expect.stringMatching(/^PATCH requires Content-Type/)] },
    });
    expect(
      await send('{"data":{"a":"b"}}', 'PATCH', { 'content-type': 'application/merge-patch+json' }),
    ).toEqual({ status: 405, body: { errors: ['unsupported operation'] } });
    const options = await fetch(`${vault.addr}/v1/sys/health`, { method: 'OPTIONS' });
    expect({ status: options.status, body: await options.json() }).toEqual({
      status: 405,
      body: { errors: ['unsupported operation'] },
    });
    // a route that exists, with an operation it does not have
    expect(await call('DELETE', 'identity/oidc/token/fuzz', root)).toEqual({
      status: 405,
      headers: expect.anything(),
      body: { errors: ['unsupported operation'] },
    });
  });
});

describe('any request (property)', () => {
  const words = fc.constantFrom(
    'sys',
    'auth',
    'token',
    'approle',
    'kubernetes',
    'secret',
    'data',
    'metadata',
    'identity',
    'oidc',
    'key',
    'role',
    'introspect',
    '.well-known',
    'keys',
    'openid-configuration',
    'leases',
    'lookup',
    'revoke-prefix',
    'wrapping',
    'unwrap',
    'policies',
    'acl',
    'capabilities-self',
    'mounts',
    'secret-id',
    'secret-id-accessor',
    'login',
    'create',
    'lookup-accessor',
    'lookup-self',
    'renew-self',
    'accessors',
    'entity',
    'id',
    'fuzz',
    'config',
    'rotate',
  );
  const junk = fc.oneof(
    fc.string({ maxLength: 6 }).map(encodeURIComponent),
    fc.constantFrom('%', '%zz', '%FF', '%00', '..', '', '%2F', '%E0%A4%A', '%C0%AF'),
  );
  const path = fc
    .array(fc.oneof({ weight: 5, arbitrary: words }, { weight: 1, arbitrary: junk }), {
      minLength: 1,
      maxLength: 6,
    })
    .map((s) => s.join('/'));
  const field = fc.jsonValue({ maxDepth: 3 });
  const body = fc.oneof(
    fc.constant(undefined),
    fc.string({ maxLength: 40 }),
    fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
    fc
      .record(
        {
          token: field,
          policies: field,
          ttl: field,
          data: field,
          key: field,
          template: field,
          role_id: field,
          secret_id: field,
          accessor: field,
          increment: field,
          issuer: field,
          algorithm: field,
          allowed_client_ids: field,
          verification_ttl: field,
          type: field,
          policy: field,
          paths: field,
          lease_id: field,
          options: field,
          metadata: field,
          num_uses: field,
          no_parent: field,
          secret_id_accessor: field,
          client_id: field,
        },
        { requiredKeys: [] },
      )
      .map((v) => JSON.stringify(v)),
  );
  const request = fc.record({
    method: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
    path,
    list: fc.boolean(),
    token: fc.constantFrom('root', 'none', 'bogus'),
    body,
  });

  it('never answers 5xx, always answers errors in Vault format, and stays up', async () => {
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        // the root token revoking itself would only make the rest of the run boring
        fc.pre(!(r.token === 'root' && /revoke|sys\/(auth|mounts)/.test(r.path)));
        const token = { root: vault.rootToken, none: undefined, bogus: 'hvs.bogus' }[r.token];
        const res = await fetch(`${vault.addr}/v1/${r.path}${r.list ? '?list=true' : ''}`, {
          method: r.method,
          headers: token ? { 'x-vault-token': token } : {},
          body: r.method === 'GET' ? undefined : r.body,
        });
        const text = await res.text();
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) {
          const json = JSON.parse(text) as { errors?: unknown; data?: unknown };
          // Vault's error body, or a 404 that keeps the envelope (KV soft delete, accessor lookup)
          if (!(res.status === 404 && json.data))
            expect(
              Array.isArray(json.errors) && json.errors.every((e) => typeof e === 'string'),
            ).toBe(true);
        }
      }),
      { numRuns: 400 },
    );
    expect((await call('GET', 'sys/health')).status).toBe(200);
  });
});
