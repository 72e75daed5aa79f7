// The dashboard's HTTP server (node:http): the page, the state it polls, and the drill
// button. Everything it answers is names, numbers and booleans: no token, password or key
// reaches this process except through the drill runner, which keeps its own.
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Layer } from '../drill/rows';
import type { DrillResultsFile } from '../drill/report';
import { DrillRuns, type DrillRunState, type DrillRunner } from './drill-runs';
import { identityChains, type IdentityChain } from './identity';
import {
  ledgerLive,
  queuesLive,
  scrape,
  serviceLive,
  type LedgerLine,
  type QueueLive,
  type ServiceLive,
} from './live';
import type { StackEndpoints } from './stack-file';
import { Throughput } from './throughput';

export interface DashboardState {
  at: string;
  services: (IdentityChain & { live: ServiceLive })[];
  queues: (QueueLive & { perSecond: number | null })[];
  ledger: LedgerLine[] | null;
  drill: { results: DrillResultsFile | null; run: DrillRunState };
}

export interface DashboardOptions {
  endpoints: StackEndpoints;
  drillResultsFile: string;
  runDrill: DrillRunner;
  host?: string;
  port?: number;
}

export interface Dashboard {
  url: string;
  drill: DrillRuns;
  close(): Promise<void>;
}

const LAYERS: readonly Layer[] = ['http', 'oauth', 'mtls', 'vault', 'redis', 'database', 'edge'];
const PAGE = readFileSync(join(__dirname, 'page.html'), 'utf8');

const LOCAL_HOSTS = new Set(['127.0.0.1', 'localhost', '[::1]']);

/**
 * Why a request from another site is refused, if it is. The page reads only loopback state,
 * but its button starts a drill (which, under `demo --keep`, rotates identities): a page on
 * another site must not press it (CSRF) or read the state through a name it points at
 * 127.0.0.1 (DNS rebinding). So the Host must be a loopback name (or the configured listen
 * host) with this port, and a POST
 * must carry the page's own header (a cross-site fetch cannot send it without a CORS
 * preflight, which this server never grants) and no foreign Origin.
 */
export function crossSiteRefusal(
  req: IncomingMessage,
  port: number,
  boundHost?: string,
): string | undefined {
  const host = req.headers.host ?? '';
  const name = host.replace(new RegExp(`:${port}$`), '');
  if (name === host || !(LOCAL_HOSTS.has(name) || name === boundHost))
    return 'the dashboard answers only the address it listens on';
  if (req.method === 'GET' || req.method === 'HEAD') return undefined;
  if (req.headers['x-dashboard'] !== 'run') return 'the drill is started from the page only';
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${host}`) return 'cross-site request';
  return undefined;
}

function readResults(file: string): DrillResultsFile | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as DrillResultsFile;
  } catch {
    return null; // no drill has run yet
  }
}

function send(res: ServerResponse, status: number, type: string, body: string) {
  res.writeHead(status, {
    'content-type': type,
    'cache-control': 'no-store',
    // the page is self-contained: nothing from anywhere else, not even by accident
    'content-security-policy':
      "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
  });
  res.end(body);
}
const sendJson = (res: ServerResponse, status: number, body: unknown) =>
  send(res, status, 'application/json', JSON.stringify(body));

/** `?layers=oauth,vault`: some layers only (and no incident section); absent: the whole drill. */
function layersOf(req: IncomingMessage): readonly Layer[] | undefined | 'invalid' {
  const asked = new URL(req.url ?? '/', 'http://x').searchParams.get('layers');
  if (!asked) return undefined;
  const layers = asked.split(',');
  return layers.every((l) => (LAYERS as readonly string[]).includes(l))
    ? (layers as Layer[])
    : 'invalid';
}

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const drill = new DrillRuns(options.runDrill);
  const throughput = new Throughput();

  const state = async (): Promise<DashboardState> => {
    const s = await scrape(options.endpoints);
    return {
      at: new Date().toISOString(),
      services: identityChains().map((chain) => ({
        ...chain,
        live: serviceLive(chain.service, s.services[chain.service]),
      })),
      queues: queuesLive(s).map((q) => ({
        ...q,
        perSecond: throughput.observe(q.queue, q.processed.succeeded),
      })),
      ledger: ledgerLive(s.provider),
      drill: { results: readResults(options.drillResultsFile), run: drill.state },
    };
  };

  const routes: {
    method: string;
    path: string;
    handle(req: IncomingMessage, res: ServerResponse): Promise<void> | void;
  }[] = [
    {
      method: 'GET',
      path: '/',
      handle: (_req, res) => send(res, 200, 'text/html; charset=utf-8', PAGE),
    },
    {
      method: 'GET',
      path: '/api/state',
      handle: async (_req, res) => sendJson(res, 200, await state()),
    },
    {
      method: 'POST',
      path: '/api/drill',
      handle: (req, res) => {
        const layers = layersOf(req);
        if (layers === 'invalid')
          return sendJson(res, 400, { error: `layers: one of ${LAYERS.join(', ')}` });
        return drill.start(layers)
          ? sendJson(res, 202, { started: true })
          : sendJson(res, 409, { error: 'a drill is already running' });
      },
    },
  ];

  const server = createServer((req, res) => {
    const refusal = crossSiteRefusal(req, (server.address() as AddressInfo).port, options.host);
    if (refusal) return sendJson(res, 403, { error: refusal });
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = routes.find((r) => r.path === path && r.method === req.method);
    if (!route) return sendJson(res, 404, { error: 'not found' });
    Promise.resolve(route.handle(req, res)).catch(() => {
      if (!res.headersSent) sendJson(res, 500, { error: 'the dashboard could not answer' });
    });
  });
  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}/`,
    drill,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
