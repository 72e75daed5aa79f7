import type { IncomingMessage } from 'node:http';
import { crossSiteRefusal } from './server';

const req = (method: string, headers: Record<string, string>) =>
  ({ method, headers }) as unknown as IncomingMessage;

describe('the dashboard refuses other sites', () => {
  it.each([
    ['its page from the loopback address', 'GET', { host: '127.0.0.1:4100' }, undefined],
    ['its page as localhost', 'GET', { host: 'localhost:4100' }, undefined],
    ['a name rebound to 127.0.0.1', 'GET', { host: 'evil.example:4100' }, 'refused'],
    ['another port', 'GET', { host: '127.0.0.1:80' }, 'refused'],
    ['no Host', 'GET', {}, 'refused'],
    [
      'the button',
      'POST',
      { host: '127.0.0.1:4100', 'x-dashboard': 'run', origin: 'http://127.0.0.1:4100' },
      undefined,
    ],
    [
      'a cross-site form post',
      'POST',
      { host: '127.0.0.1:4100', origin: 'https://evil.example' },
      'refused',
    ],
    ['a post without the page header', 'POST', { host: '127.0.0.1:4100' }, 'refused'],
    [
      'the header from a foreign origin',
      'POST',
      { host: '127.0.0.1:4100', 'x-dashboard': 'run', origin: 'https://evil.example' },
      'refused',
    ],
  ])('%s', (_what, method, headers, expected) => {
    const refusal = crossSiteRefusal(req(method, headers), 4100);
    expect(refusal === undefined ? undefined : 'refused').toBe(expected);
  });

  it('accepts the host it was told to listen on', () => {
    expect(
      crossSiteRefusal(req('GET', { host: 'dash.internal:4100' }), 4100, 'dash.internal'),
    ).toBeUndefined();
  });
});
