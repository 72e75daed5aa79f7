// Benchmarks the payments API's token validation (TokenGuard.canActivate: jose verification
// with the pinned key, claims, certificate binding, client status, rate limit) against a bare
// jose.jwtVerify of the same token. Run by `npm run bench` with a client certificate PEM file
// as its argument; prints one JSON line.
import 'reflect-metadata';
import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify } from 'jose';
import pino from 'pino';
import { ClientRegistry } from './client-registry';
import { FaultState } from './faults';
import { IdempotencyStore, Ledger, RateLimiter } from './ledger';
import type { SandboxConfig } from './sandbox.config';
import { SandboxState } from './state';
import { TokenGuard } from './token.guard';
import { WebhookDispatcher } from './webhooks';

async function opsPerSec(fn: () => Promise<unknown>, ms: number): Promise<number> {
  let ops = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    for (let i = 0; i < 200; i += 1) await fn();
    ops += 200;
  }
  return ops / ((performance.now() - start) / 1000);
}

async function main() {
  const cert = new X509Certificate(readFileSync(process.argv[2], 'utf8'));
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256' };
  const config = { issuer: 'https://as.bench', audience: 'https://api.bench/v1' } as SandboxConfig;
  const registry = new ClientRegistry();
  registry.upsert('payment-service', {
    scopes: ['payments:write'],
    token_endpoint_auth_method: 'client_secret_basic',
  });
  const log = pino({ level: 'silent' });
  const state = new SandboxState(
    config,
    registry,
    new Ledger(),
    new IdempotencyStore(),
    new RateLimiter(1e12),
    new WebhookDispatcher(log, 1000),
    new FaultState(),
    publicJwk,
    log,
  );
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({
    client_id: 'payment-service',
    scope: 'payments:write',
    jti: 'j1',
    cnf: { 'x5t#S256': createHash('sha256').update(cert.raw).digest('base64url') },
  })
    .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'bench' })
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setSubject('payment-service')
    .setIssuedAt(now)
    .setExpirationTime(now + 900)
    .sign(privateKey);

  const guard = new TokenGuard(state, new Reflector());
  const req = {
    headers: { authorization: `Bearer ${token}` },
    query: {},
    body: undefined,
    socket: { authorized: true, getPeerX509Certificate: () => cert },
  };
  const res = { setHeader: () => undefined };
  const ctx = {
    switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }),
    getHandler: () => main,
  } as unknown as ExecutionContext;
  const key = await importJWK(publicJwk, 'ES256');
  const bare = () =>
    jwtVerify(token, key, {
      issuer: config.issuer,
      audience: config.audience,
      typ: 'at+jwt',
      algorithms: ['ES256'],
    });
  await opsPerSec(() => guard.canActivate(ctx), 300);
  await opsPerSec(bare, 300);
  // one call of each side in turn, each timed on its own (order alternating), so that both
  // sides see the same moments of a noisy shared machine; a verification takes ~0.2 ms,
  // three orders of magnitude above the timer's cost. The figure is the median of the pairs'
  // ratios, so a GC pause landing on one call does not move it
  let guardMs = 0;
  let bareMs = 0;
  const ratios: number[] = [];
  const calls = 6000;
  for (let i = 0; i < calls; i += 1) {
    const t0 = performance.now();
    if (i % 2 === 0) await guard.canActivate(ctx);
    else await bare();
    const t1 = performance.now();
    if (i % 2 === 0) await bare();
    else await guard.canActivate(ctx);
    const t2 = performance.now();
    const g = i % 2 === 0 ? t1 - t0 : t2 - t1;
    const b = i % 2 === 0 ? t2 - t1 : t1 - t0;
    guardMs += g;
    bareMs += b;
    ratios.push(b / g);
  }
  const median = [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)];
  process.stdout.write(
    `${JSON.stringify({ guardOpsPerSec: calls / (guardMs / 1000), bareJoseOpsPerSec: calls / (bareMs / 1000), ratio: median })}\n`,
  );
  state.webhooks.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
