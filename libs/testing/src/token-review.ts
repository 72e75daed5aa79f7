import { createServer } from 'node:http';

export interface TokenReviewStandIn {
  /** Base URL to configure as Vault's `kubernetes_host`. */
  url: string;
  /** How many TokenReviews were asked for so far. */
  calls(): number;
  stop(): Promise<void>;
}

/**
 * A stand-in for the Kubernetes API's TokenReview endpoint (what Vault's Kubernetes auth,
 * and vault-dev, call on login): `users` maps a service-account token to its username,
 * e.g. `system:serviceaccount:payments:payment-service`; any other token is unauthenticated.
 */
export async function startTokenReview(users: Record<string, string>): Promise<TokenReviewStandIn> {
  let calls = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      calls += 1;
      const token = (JSON.parse(body) as { spec?: { token?: string } }).spec?.token ?? '';
      const username = users[token];
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          status: username ? { authenticated: true, user: { username } } : { authenticated: false },
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    calls: () => calls,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}
