// Every HTTP edge the system runs, attacked from the compromised service's position: an
// oversized body and a malformed request must each get a 4xx in that edge's own error
// format, and the edge must still answer afterwards (issue 16.4). Few, decisive rows; the
// fuzz suite generates the rest.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { SERVICE_NAMES, type ServiceName } from '@lpi/access-matrix';
import { httpsCall } from '@lpi/testing';
import type { Stack } from '../../demo/stack';
import type { Json } from '../clients';
import { certOf } from '../loot';
import { allowed, denied, type Outcome } from '../rows';
import type { Probe } from './context';

const MB = 1024 * 1024;

interface Edge {
  name: string;
  /** The request target that reads a body. */
  url: string;
  contentType: string;
  malformed: string;
  /** Larger than the edge's documented limit (Vault: 32 MiB). */
  oversizedBytes: number;
  format: (json: Json | undefined) => boolean;
  health: string;
  tls: boolean;
}

const envelope = (j?: Json) =>
  Boolean(j?.error?.type && j.error.code && j.error.message && j.error.request_id);

function edgesOf(s: Stack): Edge[] {
  const services = SERVICE_NAMES.map((service) => {
    const url = s.services[service].url;
    const path =
      service === 'payment-service'
        ? '/payments'
        : service === 'refund-service'
          ? '/refunds'
          : service === 'webhook-service'
            ? '/webhooks/provider'
            : '/reports/summary';
    return {
      name: service,
      url: `${url}${path}`,
      contentType: 'application/json',
      malformed: '{"amount": 1, "currency": "EUR", "description": "\\ud800',
      oversizedBytes: 2 * MB,
      format: envelope,
      health: `${url}/health/live`,
      tls: false,
    };
  });
  return [
    ...services,
    {
      name: 'vault-dev',
      url: `${s.vault.addr}/v1/auth/approle/login`,
      contentType: 'application/json',
      malformed: '{"role_id": "x", "secret_id": ',
      oversizedBytes: 33 * MB,
      format: (j) => Array.isArray(j?.errors),
      health: `${s.vault.addr}/v1/sys/health`,
      tls: false,
    },
    {
      name: 'authorization server /token',
      url: s.sandbox.tokenEndpoint,
      contentType: 'application/x-www-form-urlencoded',
      malformed: 'grant_type=client_credentials&scope=%E0%A4%A&client_id=%ZZ',
      oversizedBytes: 2 * MB,
      format: (j) => typeof j?.error === 'string',
      health: `${s.sandbox.issuer}/.well-known/openid-configuration`,
      tls: true,
    },
    {
      name: 'payments API',
      url: `${s.sandbox.apiBaseUrl}/v1/payments`,
      contentType: 'application/json',
      malformed: '{"amount": 1, "currency": ',
      oversizedBytes: 2 * MB,
      format: envelope,
      health: `${s.sandbox.apiBaseUrl}/health/ready`,
      tls: true,
    },
  ];
}

interface Answer {
  status: number;
  json?: Json;
  error?: string;
}

/** POSTs a body and keeps the answer even when the edge stops reading and closes early. */
function post(s: Stack, edge: Edge, body: Buffer, cert: { cert?: string; key?: string }) {
  return new Promise<Answer>((resolve) => {
    let answered: Answer | undefined;
    const request = edge.tls ? httpsRequest : httpRequest;
    const req = request(edge.url, {
      method: 'POST',
      headers: { 'content-type': edge.contentType, 'content-length': String(body.length) },
      agent: false,
      timeout: 60_000,
      ...(edge.tls ? { ca: s.sandbox.caCert, ...cert } : {}),
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: Json | undefined;
        try {
          json = JSON.parse(text) as Json;
        } catch {
          json = undefined;
        }
        answered = { status: res.statusCode ?? 0, json };
        resolve(answered);
      });
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 60 s')));
    req.on('error', (err) => {
      if (!answered) resolve({ status: 0, error: err.message.slice(0, 60) });
    });
    req.end(body);
  });
}

async function alive(s: Stack, edge: Edge): Promise<boolean> {
  if (!edge.tls) return (await fetch(edge.health).catch(() => undefined))?.status === 200;
  return (
    (await httpsCall(edge.health, { ca: s.sandbox.caCert }).catch(() => undefined))?.status === 200
  );
}

/** Denied means the edge held: a 4xx in its own format, and it still answers. */
async function judge(s: Stack, edge: Edge, answer: Answer): Promise<Outcome> {
  const up = await alive(s, edge);
  if (!up) return allowed(`${edge.name} stopped answering`);
  if (answer.status === 0) return allowed(`no HTTP answer: ${answer.error}`);
  if (answer.status < 400 || answer.status >= 500) return allowed(String(answer.status));
  if (!edge.format(answer.json)) return allowed(`${answer.status}, not the edge's error format`);
  return denied(`${answer.status} in its format, still up`);
}

export const edgeProbe: Probe = async (ctx, service: ServiceName) => {
  const s = ctx.stack;
  const row = ctx.rows.for(service, 'edge');
  const cert = certOf(ctx.loot[service]);
  for (const edge of edgesOf(s)) {
    const filler = edge.contentType === 'application/json' ? '{"description":"' : 'scope=';
    const big = Buffer.alloc(edge.oversizedBytes, 'a');
    big.write(filler);
    const over = await post(s, edge, big, cert);
    row(`${edge.name}: ${edge.oversizedBytes / MB} MiB body`, 'deny', await judge(s, edge, over));
    const bad = await post(s, edge, Buffer.from(edge.malformed), cert);
    row(`${edge.name}: malformed body`, 'deny', await judge(s, edge, bad));
  }
};
