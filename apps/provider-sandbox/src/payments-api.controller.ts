import {
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Req,
  Res,
  UseGuards,
} from '@nestjs/common';
import type { Response } from 'express';
import { z } from 'zod';
import { AppError, parseInput } from '@lpi/service-bootstrap';
import { SandboxState } from './state';
import { type AuthenticatedRequest, RequireScope, TokenGuard } from './token.guard';

const CURRENCIES = [
  'EUR',
  'USD',
  'GBP',
  'CHF',
  'SEK',
  'NOK',
  'DKK',
  'PLN',
  'JPY',
  'CAD',
  'AUD',
] as const;
const amount = z.number().int('must be an integer in minor units').positive().max(100_000_000);
const currency = z.enum(CURRENCIES, { message: 'must be a supported ISO 4217 currency code' });

const createPayment = z.strictObject({
  amount,
  currency,
  description: z.string().max(200).optional(),
  metadata: z.record(z.string().max(40), z.string().max(200)).optional(),
});
const createRefund = z.strictObject({
  payment: z.string().regex(/^pp_[A-Za-z0-9_-]{1,64}$/, 'must be a payment id'),
  amount,
  reason: z.string().max(200).optional(),
});
const createEndpoint = z.strictObject({
  url: z.url().refine((u) => /^https?:\/\//.test(u), 'must be an http(s) URL'),
  secret: z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/=]{24,}$/, 'must be a whsec_ secret of at least 18 bytes')
    .optional(),
  events: z.array(z.enum(['payment.succeeded', 'refund.succeeded'])).optional(),
});
const listQuery = z.strictObject({
  limit: z
    .string()
    .regex(/^\d{1,3}$/)
    .transform(Number)
    .refine((n) => n >= 1 && n <= 100, 'must be 1-100')
    .optional(),
  starting_after: z.string().max(80).optional(),
});

const notFound = (what: string, id: string) =>
  new AppError(404, 'not_found_error', `${what}_not_found`, `no ${what} ${id}`);

@Controller('v1')
@UseGuards(TokenGuard)
export class PaymentsApiController {
  constructor(private readonly state: SandboxState) {}

  private async write(
    req: AuthenticatedRequest,
    res: Response,
    key: string | undefined,
    op: () => Promise<unknown>,
  ) {
    const result = await this.state.idempotency.run(
      req.token.client_id,
      key,
      { method: req.method, path: req.path, body: req.body },
      async () => ({ status: 201, body: await op() }),
    );
    if (this.state.faults.responseDelayMs)
      await new Promise((r) => setTimeout(r, this.state.faults.responseDelayMs));
    if (result.replayed) res.setHeader('Idempotent-Replayed', 'true');
    res.status(result.status).json(result.body);
  }

  @Post('payments')
  @RequireScope('payments:write')
  async createPayment(
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
    @Headers('idempotency-key') key?: string,
  ) {
    await this.write(req, res, key, async () => {
      const input = parseInput(createPayment, req.body);
      const payment = this.state.ledger.addPayment({
        client_id: req.token.client_id,
        idempotency_key: key!,
        ...input,
      });
      this.state.webhooks.publish('payment.succeeded', {
        id: payment.id,
        amount: payment.amount,
        currency: payment.currency,
      });
      return payment;
    });
  }

  @Get('payments')
  @RequireScope('payments:read')
  listPayments(@Query() query: unknown) {
    return page([...this.state.ledger.payments.values()], parseInput(listQuery, query, 'query'));
  }

  @Get('payments/:id')
  @RequireScope('payments:read')
  getPayment(@Param('id') id: string) {
    const p = this.state.ledger.payments.get(id);
    if (!p) throw notFound('payment', id);
    return p;
  }

  @Post('refunds')
  @RequireScope('refunds:write')
  async createRefund(
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
    @Headers('idempotency-key') key?: string,
  ) {
    await this.write(req, res, key, async () => {
      const input = parseInput(createRefund, req.body);
      const refund = this.state.ledger.addRefund({
        client_id: req.token.client_id,
        idempotency_key: key!,
        ...input,
      });
      this.state.webhooks.publish('refund.succeeded', {
        id: refund.id,
        payment: refund.payment,
        amount: refund.amount,
        currency: refund.currency,
      });
      return refund;
    });
  }

  @Get('refunds')
  @RequireScope('refunds:read')
  listRefunds(@Query() query: unknown) {
    return page([...this.state.ledger.refunds.values()], parseInput(listQuery, query, 'query'));
  }

  @Get('refunds/:id')
  @RequireScope('refunds:read')
  getRefund(@Param('id') id: string) {
    const r = this.state.ledger.refunds.get(id);
    if (!r) throw notFound('refund', id);
    return r;
  }

  @Get('transactions')
  @RequireScope('transactions:read')
  transactions(@Query() query: unknown) {
    const txs = this.state.ledger.transactions().map((t) => ({
      id: t.id,
      type: t.object,
      amount: t.object === 'refund' ? -t.amount : t.amount,
      currency: t.currency,
      source: t.object === 'refund' ? t.payment : t.id,
      created_at: t.created_at,
    }));
    return page(txs, parseInput(listQuery, query, 'query'));
  }

  @Post('webhook-endpoints')
  @RequireScope('webhooks:manage')
  async createEndpoint(
    @Req() req: AuthenticatedRequest,
    @Res() res: Response,
    @Headers('idempotency-key') key?: string,
  ) {
    await this.write(req, res, key, async () => {
      const input = parseInput(createEndpoint, req.body);
      // the signing secret is returned once, on creation
      // a merchant may bring its own signing secret (kept in its vault); otherwise one is generated
      return this.state.webhooks.register(
        req.token.client_id,
        input.url,
        input.events ?? [],
        input.secret,
      );
    });
  }

  @Get('webhook-endpoints')
  @RequireScope('webhooks:manage')
  listEndpoints(@Req() req: AuthenticatedRequest) {
    return {
      data: [...this.state.webhooks.endpoints.values()]
        .filter((e) => e.client_id === req.token.client_id)
        .map(({ secret: _secret, ...rest }) => rest),
    };
  }

  @Get('webhook-endpoints/:id')
  @RequireScope('webhooks:manage')
  getEndpoint(@Req() req: AuthenticatedRequest, @Param('id') id: string) {
    const e = this.state.webhooks.endpoints.get(id);
    if (!e || e.client_id !== req.token.client_id) throw notFound('webhook_endpoint', id);
    const { secret: _secret, ...rest } = e;
    return rest;
  }

  @Delete('webhook-endpoints/:id')
  @RequireScope('webhooks:manage')
  @HttpCode(204)
  deleteEndpoint(@Req() req: AuthenticatedRequest, @Param('id') id: string) {
    const e = this.state.webhooks.endpoints.get(id);
    if (!e || e.client_id !== req.token.client_id) throw notFound('webhook_endpoint', id);
    this.state.webhooks.endpoints.delete(id);
  }
}

function page<T extends { id: string }>(
  items: T[],
  q: { limit?: number; starting_after?: string },
) {
  const limit = q.limit ?? 20;
  let start = 0;
  if (q.starting_after) {
    const i = items.findIndex((t) => t.id === q.starting_after);
    if (i < 0)
      throw new AppError(
        400,
        'invalid_request_error',
        'invalid_cursor',
        'starting_after is not a known id',
      );
    start = i + 1;
  }
  const data = items.slice(start, start + limit);
  return { object: 'list', data, has_more: start + limit < items.length };
}
