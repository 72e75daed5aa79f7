// `npm run drill -- --target compose`: the breach drill against a running `docker compose`
// stack. For each service in turn, the attacker is that service's container: every probe runs
// inside it (`docker exec`, its user, its files, its networks) through compose-probe.js.
// Expected outcomes come from the access matrix; the network rows are observed, not assumed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAMES, grantOf, type ServiceName } from '@lpi/access-matrix';
import { run } from '../../compose/sh';

/** The compromised container: a service, or the provider sandbox (the outside's foothold). */
type Attacker = ServiceName | 'provider-sandbox';

export interface ComposeDrillRow {
  service: Attacker;
  layer: 'files' | 'network' | 'vault' | 'http';
  capability: string;
  expected: 'allow' | 'deny';
  actual: string;
  ok: boolean;
  fixed?: boolean;
}

export interface ComposeDrillResult {
  rows: ComposeDrillRow[];
  failures: ComposeDrillRow[];
}

export class ComposeTargetError extends Error {
  readonly code = 'COMPOSE_TARGET_UNAVAILABLE';
}

type Probe =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'read'; path: string }
  | { kind: 'unwrap'; path: string; vault: string }
  | { kind: 'http'; method: string; url: string; body?: unknown; headers?: Record<string, string> }
  | { kind: 'scan' };

interface Planned {
  probe: Probe;
  row: Omit<ComposeDrillRow, 'actual' | 'ok' | 'service'>;
  /** Judges the observed outcome; default: `allowed…` iff expected allow. */
  judge?: (actual: string) => boolean;
}

const PROBE_SCRIPT = readFileSync(join(__dirname, 'compose-probe.js'), 'utf8');
const IDENTITY_DIR = '/run/lpi/vault';
const calls = (caller: ServiceName, callee: ServiceName) =>
  (grantOf(callee).http.callers as readonly string[]).includes(caller);

/** The running container of a compose service (one project at a time, or the one named). */
export function containerOf(service: string, project?: string): string {
  const filters = ['--filter', `label=com.docker.compose.service=${service}`];
  if (project) filters.push('--filter', `label=com.docker.compose.project=${project}`);
  const ids = run('docker', ['ps', '-q', ...filters], { capture: true, quiet: true })
    .stdout.split('\n')
    .filter(Boolean);
  if (ids.length !== 1)
    throw new ComposeTargetError(
      `${service}: expected one running container, found ${ids.length}` +
        (project ? '' : ' (several compose projects? pass --project <name>)'),
    );
  return ids[0] as string;
}

const addressesOf = (container: string): string[] =>
  run(
    'docker',
    ['inspect', '-f', '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', container],
    { capture: true, quiet: true },
  )
    .stdout.trim()
    .split(/\s+/)
    .filter(Boolean);

function plan(service: ServiceName, project?: string): Planned[] {
  const own = [`${IDENTITY_DIR}/role-id`, `${IDENTITY_DIR}/wrapped-secret-id`].join(' ');
  const planned: Planned[] = [
    {
      probe: { kind: 'scan' },
      row: {
        layer: 'files',
        capability: 'credential files it holds',
        expected: 'allow',
        fixed: true,
      },
      judge: (actual) => actual === own,
    },
    ...[
      '/pki/ca.key',
      '/pki/vault-root-token',
      '/pki/sandbox-admin-token',
      `/pki/${service}.key`,
    ].map((path): Planned => ({
      probe: { kind: 'read', path },
      row: { layer: 'files', capability: `read ${path}`, expected: 'deny', fixed: true },
    })),
    {
      probe: {
        kind: 'unwrap',
        path: `${IDENTITY_DIR}/wrapped-secret-id`,
        vault: 'http://vault:8200',
      },
      row: {
        layer: 'vault',
        capability: 'unwrap its wrapped secret-id again',
        expected: 'deny',
        fixed: true,
      },
    },
    {
      probe: { kind: 'tcp', host: 'redis', port: 6379 },
      row: { layer: 'network', capability: 'reach redis:6379', expected: 'allow' },
    },
    {
      probe: { kind: 'tcp', host: 'vault', port: 8200 },
      row: { layer: 'network', capability: 'reach vault:8200', expected: 'allow' },
    },
    {
      probe: { kind: 'tcp', host: 'postgres', port: 5432 },
      row: { layer: 'network', capability: 'reach postgres:5432', expected: 'allow' },
    },
    // the database's two passwords live in volumes only PostgreSQL, the migration and the
    // bootstrap mount; a service's own login comes from Vault
    ...['/run/lpi/database-owner/password', '/run/lpi/database-vault-admin/password'].map(
      (path): Planned => ({
        probe: { kind: 'read', path },
        row: { layer: 'files', capability: `read ${path}`, expected: 'deny', fixed: true },
      }),
    ),
    {
      probe: { kind: 'tcp', host: 'provider-sandbox', port: 9443 },
      row: {
        layer: 'network',
        capability: 'reach the provider (provider-sandbox:9443)',
        expected: grantOf(service).oauth.scopes.length > 0 ? 'allow' : 'deny',
      },
    },
  ];
  for (const other of SERVICE_NAMES.filter((s) => s !== service)) {
    const port = grantOf(other).http.port;
    const expected = calls(service, other) ? 'allow' : 'deny';
    planned.push(
      {
        probe: { kind: 'read', path: `/bootstrap/${other}/role-id` },
        row: {
          layer: 'files',
          capability: `read ${other}'s identity`,
          expected: 'deny',
          fixed: true,
        },
      },
      {
        probe: { kind: 'tcp', host: other, port },
        row: { layer: 'network', capability: `reach ${other}:${port} by name`, expected },
      },
      ...addressesOf(containerOf(other, project)).map((address): Planned => ({
        probe: { kind: 'tcp', host: address, port },
        row: { layer: 'network', capability: `reach ${other}:${port} at ${address}`, expected },
      })),
    );
  }
  if (!calls(service, 'payment-service') && service !== 'payment-service')
    planned.push({
      probe: {
        kind: 'http',
        method: 'POST',
        url: `http://payment-service:${grantOf('payment-service').http.port}/payments`,
        headers: { 'idempotency-key': `drill-${service}` },
        body: { amount: 1, currency: 'EUR', description: 'breach drill' },
      },
      row: {
        layer: 'http',
        capability: 'charge a payment through payment-service',
        expected: 'deny',
      },
    });
  return planned;
}

/**
 * The provider sandbox shares zones with the services that call the provider: from there,
 * PostgreSQL and its passwords must be out of reach (ADR 0031).
 */
const sandboxPlan = (project?: string): Planned[] => [
  {
    probe: { kind: 'tcp', host: 'postgres', port: 5432 },
    row: { layer: 'network', capability: 'reach postgres:5432 by name', expected: 'deny' },
  },
  ...addressesOf(containerOf('postgres', project)).map((address): Planned => ({
    probe: { kind: 'tcp', host: address, port: 5432 },
    row: { layer: 'network', capability: `reach postgres:5432 at ${address}`, expected: 'deny' },
  })),
  ...['/run/lpi/database-owner/password', '/run/lpi/database-vault-admin/password'].map(
    (path): Planned => ({
      probe: { kind: 'read', path },
      row: { layer: 'files', capability: `read ${path}`, expected: 'deny', fixed: true },
    }),
  ),
];

function attackFrom(service: Attacker, planned: Planned[], project?: string): ComposeDrillRow[] {
  const container = containerOf(service, project);
  const out = run(
    'docker',
    ['exec', container, 'node', '-e', PROBE_SCRIPT, JSON.stringify(planned.map((p) => p.probe))],
    { capture: true, quiet: true },
  ).stdout;
  const observed = JSON.parse(out.trim().split('\n').pop() ?? '[]') as string[];
  return planned.map((p, i) => {
    const actual = observed[i] ?? 'error: no result';
    const ok = p.judge
      ? p.judge(actual)
      : (p.row.expected === 'allow') === actual.startsWith('allowed');
    return { service, ...p.row, actual, ok };
  });
}

export function renderComposeTable(rows: readonly ComposeDrillRow[]): string {
  const w = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s.padEnd(n));
  return [
    `${w('compromised', 18)} ${w('layer', 7)} ${w('capability', 50)} ${w('expected', 8)} ${w('observed inside the container', 60)} ok`,
    ...rows.map(
      (r) =>
        `${w(r.service, 18)} ${w(r.layer, 7)} ${w(r.capability, 50)} ${w(r.expected, 8)} ${w(r.actual, 60)} ${r.ok ? '✓' : '✗ FAIL'}${r.fixed ? ' (fixed)' : ''}`,
    ),
  ].join('\n');
}

export function runComposeDrill(
  options: { project?: string; print?: (line: string) => void } = {},
): ComposeDrillResult {
  const print = options.print ?? ((line: string) => console.log(line));
  const rows: ComposeDrillRow[] = [];
  for (const service of SERVICE_NAMES) {
    print(`==> breach drill (compose): attacking from inside ${service}'s container`);
    rows.push(...attackFrom(service, plan(service, options.project), options.project));
  }
  print(`==> breach drill (compose): attacking the database from inside the provider sandbox`);
  rows.push(...attackFrom('provider-sandbox', sandboxPlan(options.project), options.project));
  const failures = rows.filter((r) => !r.ok);
  print(renderComposeTable(rows));
  print(
    `\nbreach drill (compose): ${rows.length - failures.length} passed, ${failures.length} failed`,
  );
  return { rows, failures };
}
