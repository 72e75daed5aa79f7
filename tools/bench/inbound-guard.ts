// The services' inbound guard (CallerAuthGuard.canActivate: route lookup from Nest metadata,
// Bearer parsing, jose verification against the issuer's JWKS served over HTTP, typ and
// template claims, caller and scope from the access matrix) against a bare jose.jwtVerify of
// the same token with the same key, and the guard's CPU per request. In-process, real keys.
// Each token is new to the guard (its full verification), except in the repeat figure, where
// one token comes back (a caller's cached token: the guard's verified-token cache answers).
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { Controller, Post, type ExecutionContext } from '@nestjs/common';
import { SignJWT, exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { CallerAuthGuard, CallerTokenVerifier, readCallerAuthConfig } from '@lpi/auth';

@Controller('payments')
class PaymentsController {
  @Post()
  create() {
    return undefined;
  }
}

export interface InboundGuardResult {
  guardOpsPerSec: number;
  bareJoseOpsPerSec: number;
  /** Median over interleaved pairs of bare time / guard time, each token new to the guard. */
  ratio: number;
  /** The same with one token repeated: the guard serves it from its verified tokens. */
  repeatRatio: number;
  /** CPU (user + system) per guarded request, each token new to the guard, ms. */
  guardCpuMsPerRequest: number;
}

/** One call of each side in turn, order alternating, each timed alone. */
async function interleaved(
  calls: number,
  guarded: (i: number) => Promise<void>,
  bare: (i: number) => Promise<unknown>,
) {
  let guardMs = 0;
  let bareMs = 0;
  const ratios: number[] = [];
  for (let i = 0; i < calls; i += 1) {
    const guardFirst = i % 2 === 0;
    const t0 = performance.now();
    await (guardFirst ? guarded(i) : bare(i));
    const t1 = performance.now();
    await (guardFirst ? bare(i) : guarded(i));
    const t2 = performance.now();
    const g = guardFirst ? t1 - t0 : t2 - t1;
    const b = guardFirst ? t2 - t1 : t1 - t0;
    guardMs += g;
    bareMs += b;
    ratios.push(b / g);
  }
  // the median of the pairs' ratios: a GC pause or a neighbour's burst moves one pair only
  const ratio = [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)];
  return { guardMs, bareMs, ratio };
}

export async function inboundGuardBenchmark(calls = 6000): Promise<InboundGuardResult> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID();
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const server = createServer((_req, res) => res.end(JSON.stringify(jwks)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const vaultAddr = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const options = readCallerAuthConfig('payment-service', { VAULT_ADDR: vaultAddr });
    const newGuard = () =>
      new CallerAuthGuard('payment-service', new CallerTokenVerifier('payment-service', options));
    const mint = () =>
      new SignJWT({
        namespace: 'root',
        client_id: 'checkout',
        scope: 'payments:create payments:read',
        nbf: Math.floor(Date.now() / 1000),
      })
        .setProtectedHeader({ alg: 'RS256', kid })
        .setIssuer(options.issuer)
        .setAudience('payment-service')
        .setSubject(randomUUID())
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    const tokens = await Promise.all(Array.from({ length: calls + 300 }, mint));
    const request = { headers: { authorization: '' } };
    const context = {
      getHandler: () => PaymentsController.prototype.create,
      getClass: () => PaymentsController,
      switchToHttp: () => ({ getRequest: () => request }),
    } as unknown as ExecutionContext;
    const guardWith = (guard: CallerAuthGuard) => async (token: string) => {
      request.headers.authorization = `Bearer ${token}`;
      if (!(await guard.canActivate(context))) throw new Error('the guard refused the bench token');
    };
    const bare = (token: string) =>
      jwtVerify(token, publicKey, {
        issuer: options.issuer,
        audience: 'payment-service',
        algorithms: ['RS256'],
      });
    const warm = guardWith(newGuard());
    for (const token of tokens.slice(calls)) {
      await warm(token);
      await bare(token);
    }
    const firstSight = guardWith(newGuard());
    const cold = await interleaved(
      calls,
      (i) => firstSight(tokens[i]),
      (i) => bare(tokens[i]),
    );
    const repeated = guardWith(newGuard());
    const repeat = await interleaved(
      calls,
      () => repeated(tokens[0]),
      () => bare(tokens[0]),
    );
    const measured = guardWith(newGuard());
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < calls; i += 1) await measured(tokens[i]);
    const cpu = process.cpuUsage(cpu0);
    return {
      guardOpsPerSec: calls / (cold.guardMs / 1000),
      bareJoseOpsPerSec: calls / (cold.bareMs / 1000),
      ratio: cold.ratio,
      repeatRatio: repeat.ratio,
      guardCpuMsPerRequest: (cpu.user + cpu.system) / 1000 / calls,
    };
  } finally {
    server.close();
  }
}
