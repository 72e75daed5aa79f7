// The cache-hit and cold-herd arms of `npm run bench -- "cache hit"`: our token manager and the
// most used Node token clients with a cache of their own, each against the same local HTTPS
// token endpoint, each through its own cache API as its README shows it.
import { createServer, Agent as HttpsAgent } from 'node:https';
import type { AddressInfo } from 'node:net';
import { OAuth2Client, OAuth2Fetch } from '@badgateway/oauth2-client';
import axios from 'axios';
import { tokenCache } from 'axios-token-interceptor';
import { Agent, fetch as undiciFetch } from 'undici';
import { CredentialSet, TokenManager } from '@lpi/auth';
import { createDevPki } from '@lpi/testing';

export const CLIENT_ID = 'payment-service';
const CLIENT_SECRET = 'bench-secret';
const SCOPE = 'payments:write';

export interface TokenEndpoint {
  issuer: string;
  tokenUrl: string;
  caCert: string;
  /** Token requests answered since the last `reset`. */
  requests(): number;
  reset(): void;
  close(): Promise<void>;
}

/** A minimal client-credentials token endpoint over HTTPS; each answer takes ~5 ms. */
export async function startTokenEndpoint(): Promise<TokenEndpoint> {
  const pki = await createDevPki();
  let requests = 0;
  let issued = 0;
  const server = createServer({ cert: pki.server.cert, key: pki.server.key }, (req, res) => {
    req.resume();
    req.on('end', () => {
      requests += 1;
      setTimeout(() => {
        res.setHeader('content-type', 'application/json');
        res.setHeader('cache-control', 'no-store');
        res.end(
          JSON.stringify({
            access_token: `tok-${++issued}`,
            token_type: 'Bearer',
            expires_in: 900,
            scope: SCOPE,
          }),
        );
      }, 5);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    tokenUrl: `${issuer}/token`,
    caCert: pki.caCert,
    requests: () => requests,
    reset: () => (requests = 0),
    close: () => {
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

/** One client instance: `hit` is what a caller awaits for a token. */
export interface TokenArm {
  hit: () => Promise<unknown>;
  close(): void;
}

export interface ArmFactory {
  /** The figure suffix, e.g. `cacheHitOpsPerSec.badgateway`. */
  key: string;
  name: string;
  create(endpoint: TokenEndpoint): TokenArm;
}

const ours: ArmFactory = {
  key: 'ours',
  name: 'ours (@lpi/auth TokenManager)',
  create(endpoint) {
    const tm = new TokenManager({
      issuer: endpoint.issuer,
      tokenEndpoint: endpoint.tokenUrl,
      caCert: endpoint.caCert,
      clients: [
        {
          name: 'provider',
          credentials: new CredentialSet({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET }),
          scopes: [SCOPE],
        },
      ],
    });
    return { hit: () => tm.getToken('provider'), close: () => tm.close() };
  },
};

const badgateway: ArmFactory = {
  key: 'badgateway',
  name: '@badgateway/oauth2-client (OAuth2Fetch)',
  create(endpoint) {
    const dispatcher = new Agent({ connect: { ca: endpoint.caCert } });
    const client = new OAuth2Client({
      server: endpoint.issuer,
      tokenEndpoint: '/token',
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      fetch: ((url: string, init: RequestInit) =>
        undiciFetch(url, { ...(init as object), dispatcher })) as unknown as typeof fetch,
    });
    const wrapper = new OAuth2Fetch({
      client,
      getNewToken: () => client.clientCredentials({ scope: [SCOPE] }),
    });
    return { hit: () => wrapper.getAccessToken(), close: () => void dispatcher.close() };
  },
};

const axiosInterceptor: ArmFactory = {
  key: 'axiosTokenInterceptor',
  name: 'axios-token-interceptor (tokenCache)',
  create(endpoint) {
    const httpsAgent = new HttpsAgent({ ca: endpoint.caCert, keepAlive: true });
    const http = axios.create({ httpsAgent });
    const cache = tokenCache(
      () =>
        http
          .post<{ access_token: string; expires_in: number }>(
            endpoint.tokenUrl,
            new URLSearchParams({ grant_type: 'client_credentials', scope: SCOPE }),
            { auth: { username: CLIENT_ID, password: CLIENT_SECRET } },
          )
          .then((res) => res.data),
      { getMaxAge: (body: { expires_in: number }) => body.expires_in * 1000 },
    );
    return { hit: () => cache(), close: () => httpsAgent.destroy() };
  },
};

export const TOKEN_ARMS: readonly ArmFactory[] = [ours, badgateway, axiosInterceptor];

/** `callers` concurrent first calls on a fresh client: the token requests the endpoint saw. */
export async function coldHerd(
  factory: ArmFactory,
  endpoint: TokenEndpoint,
  callers: number,
): Promise<{ requests: number; arm: TokenArm }> {
  const arm = factory.create(endpoint);
  endpoint.reset();
  await Promise.all(Array.from({ length: callers }, () => arm.hit()));
  return { requests: endpoint.requests(), arm };
}
