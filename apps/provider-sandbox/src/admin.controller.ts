import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Injectable,
  Param,
  Post,
  Put,
  Res,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { PROVIDER_SCOPES } from '@lpi/access-matrix';
import { AppError, parseInput } from '@lpi/service-bootstrap';
import { equalSecrets } from './client-registry';
import { SandboxState } from './state';

@Injectable()
class AdminGuard implements CanActivate {
  constructor(private readonly state: SandboxState) {}
  canActivate(context: ExecutionContext): boolean {
    const header = context.switchToHttp().getRequest<Request>().headers.authorization ?? '';
    const presented = header.startsWith('Bearer ') ? header.slice(7) : '';
    if (!presented || !equalSecrets(presented, this.state.config.SANDBOX_ADMIN_TOKEN)) {
      throw new AppError(
        401,
        'authentication_error',
        'admin_auth_required',
        'the admin API needs the admin bearer token',
        {
          'WWW-Authenticate': 'Bearer realm="sandbox-admin"',
        },
      );
    }
    return true;
  }
}

const registration = z.strictObject({
  scopes: z.array(z.enum(PROVIDER_SCOPES)).min(1),
  token_endpoint_auth_method: z.enum([
    'client_secret_basic',
    'client_secret_post',
    'tls_client_auth',
    'private_key_jwt',
  ]),
  tls_client_auth_subject_dn: z.string().max(200).optional(),
  tls_client_certificate_thumbprints: z
    .array(z.string().regex(/^[A-Za-z0-9_-]{43}$/, 'must be a base64url SHA-256 thumbprint'))
    .min(1)
    .max(2)
    .optional(),
  jwks: z
    .strictObject({
      keys: z
        .array(
          z.strictObject({
            kty: z.literal('EC'),
            crv: z.literal('P-256'),
            x: z.string().max(100),
            y: z.string().max(100),
            kid: z.string().max(100),
            alg: z.literal('ES256').optional(),
            use: z.literal('sig').optional(),
          }),
        )
        .min(1)
        .max(2),
    })
    .optional(),
  refresh_tokens: z.boolean().optional(),
  certificate_bound: z.boolean().optional(),
});
const faults = z.strictObject({
  token_endpoint: z.enum(['down', 'up']).optional(),
  api_status: z
    .strictObject({
      status: z.union([z.literal(500), z.literal(502), z.literal(503), z.literal(429)]),
      count: z.number().int().min(1).max(10_000),
    })
    .optional(),
  revoke_tokens_issued_before: z.literal('now').optional(),
  response_delay_ms: z.number().int().min(0).max(60_000).optional(),
});

/** The provider's client registry and test hooks, behind their own admin credential. */
@Controller('admin')
@UseGuards(AdminGuard)
export class AdminController {
  constructor(private readonly state: SandboxState) {}

  @Put('clients/:id')
  upsertClient(
    @Param('id') id: string,
    @Body() body: unknown,
    @Res({ passthrough: true }) res: Response,
  ) {
    const result = this.state.registry.upsert(id, parseInput(registration, body));
    res.status(result.created ? 201 : 200);
    this.state.log.info({ client_id: id, created: result.created }, 'client registered');
    return {
      client_id: id,
      ...(result.client_secret ? { client_secret: result.client_secret } : {}),
    };
  }

  @Post('clients/:id/secrets')
  rotate(@Param('id') id: string) {
    const secret = this.state.registry.rotateSecret(id);
    this.state.log.info(
      { client_id: id },
      'client secret rotated; previous secret valid until retired',
    );
    return { client_id: id, client_secret: secret };
  }

  @Delete('clients/:id/secrets/previous')
  @HttpCode(204)
  retire(@Param('id') id: string) {
    this.state.registry.retirePreviousSecret(id);
    this.state.log.info({ client_id: id }, 'previous client secret retired');
  }

  @Post('clients/:id/revoke-tokens')
  @HttpCode(204)
  revokeTokens(@Param('id') id: string) {
    this.state.registry.revokeClientTokens(id);
    this.state.log.warn({ client_id: id }, 'every token issued to the client so far revoked');
  }

  @Post('clients/:id/disable')
  @HttpCode(204)
  disable(@Param('id') id: string) {
    this.state.registry.disable(id);
    this.state.log.info({ client_id: id }, 'client disabled');
  }

  @Get('ledger')
  ledger() {
    return {
      payments: [...this.state.ledger.payments.values()],
      refunds: [...this.state.ledger.refunds.values()],
    };
  }

  @Put('faults')
  setFaults(@Body() body: unknown) {
    const f = parseInput(faults, body);
    if (f.token_endpoint) this.state.faults.tokenEndpointDown = f.token_endpoint === 'down';
    if (f.api_status)
      this.state.faults.apiStatus = { status: f.api_status.status, remaining: f.api_status.count };
    if (f.revoke_tokens_issued_before) this.state.registry.revokeAllIssued();
    if (f.response_delay_ms !== undefined) this.state.faults.responseDelayMs = f.response_delay_ms;
    this.state.log.warn({ faults: f }, 'fault injected');
    return { ok: true };
  }

  @Delete('faults')
  @HttpCode(204)
  clearFaults() {
    this.state.faults.clear();
  }

  @Get('token-counts')
  tokenCounts() {
    return Object.fromEntries(this.state.registry.issuedCount);
  }

  @Get('webhook-deliveries')
  deliveries() {
    return { data: this.state.webhooks.attempts };
  }
}
