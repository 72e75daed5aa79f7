// The services' inbound guard (CallerAuthGuard.canActivate: route lookup from Nest metadata,
// Bearer parsing, jose verification against the issuer's JWKS served over HTTP, typ and
// template claims, caller and scope from the access matrix) against a bare jose.jwtVerify of
// the same token with the same key, and the guard's CPU per request. In-process, real keys.
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
  /** Median over interleaved pairs of bare time / guard time. */
  ratio: number;
  /** CPU (user + system) per guarded request, ms. */
  guardCpuMsPerRequest: number;
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
    const guard = new CallerAuthGuard(
      'payment-service',
      new CallerTokenVerifier('payment-service', options),
    );
    const token = await new SignJWT({
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
    const request = { headers: { authorization: `Bearer ${token}` } };
    const context = {
      getHandler: () => PaymentsController.prototype.create,
      getClass: () => PaymentsController,
      switchToHttp: () => ({ getRequest: () => request }),
    } as unknown as ExecutionContext;
    const guarded = async () => {
      if (!(await guard.canActivate(context))) throw new Error('the guard refused the bench token');
    };
    const bare = () =>
      jwtVerify(token, publicKey, {
        issuer: options.issuer,
        audience: 'payment-service',
        algorithms: ['RS256'],
      });
    for (let i = 0; i < 300; i += 1) {
      await guarded();
      await bare();
    }
    // one call of each side in turn, order alternating, each timed alone; the figure is the
    // median of the pairs' ratios, so a GC pause or a neighbour's burst moves one pair only
    let guardMs = 0;
    let bareMs = 0;
    const ratios: number[] = [];
    for (let i = 0; i < calls; i += 1) {
      const [first, second] = i % 2 === 0 ? [guarded, bare] : [bare, guarded];
      const t0 = performance.now();
      await first();
      const t1 = performance.now();
      await second();
      const t2 = performance.now();
      const g = first === guarded ? t1 - t0 : t2 - t1;
      const b = first === guarded ? t2 - t1 : t1 - t0;
      guardMs += g;
      bareMs += b;
      ratios.push(b / g);
    }
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < calls; i += 1) await guarded();
    const cpu = process.cpuUsage(cpu0);
    return {
      guardOpsPerSec: calls / (guardMs / 1000),
      bareJoseOpsPerSec: calls / (bareMs / 1000),
      ratio: [...ratios].sort((x, y) => x - y)[Math.floor(ratios.length / 2)],
      guardCpuMsPerRequest: (cpu.user + cpu.system) / 1000 / calls,
    };
  } finally {
    server.close();
  }
}
