// The live page in a real browser against the real stack: every service's identity chain,
// a token countdown that counts down, the ledger and queues as the provider and Redis have
// them, and the drill grid after the page's own button ran the drill's probes.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { SERVICE_NAMES, grantOf, secretDataPathOf, secretMetadataPathOf } from '@lpi/access-matrix';
import { runDrill } from '../drill/drill';
import type { DrillResultsFile } from '../drill/report';
import { ScenarioLog, scenario } from '../demo/scenario';
import { stackSecrets, startStack, type Stack } from '../demo/stack';
import { CHROMIUM, chromiumInstalled, launchChromium } from './browser';
import { browserRequired } from './dashboard.config';
import { inProcessRunner } from './drill-runs';
import { parsePrometheus, valueOf } from './prometheus';
import { startDashboard, type Dashboard } from './server';
import { endpointsOf } from './stack-file';

jest.setTimeout(120_000);

const runs = chromiumInstalled() || browserRequired();
if (!runs)
  console.warn(
    `dashboard browser test SKIPPED: no Chromium at ${CHROMIUM} (apt-get install chromium); set LPI_REQUIRE_BROWSER=1 to make this a failure`,
  );
const describeInBrowser = runs ? describe : describe.skip;

// the drill's real probes, two layers of them (the whole drill has its own spec)
const DRILL_LAYERS = ['oauth', 'vault'] as const;

let stack: Stack;
let dashboard: Dashboard;
let browser: Browser;
let page: Page;
let dir: string;
let resultsFile: string;

beforeAll(async () => {
  if (!runs) return;
  dir = mkdtempSync(join(tmpdir(), 'lpi-dashboard-'));
  resultsFile = join(dir, 'drill-results.json');
  browser = await launchChromium(); // first: a missing browser fails before a stack starts
  stack = await startStack();
  await scenario(stack, new ScenarioLog(() => undefined));
  dashboard = await startDashboard({
    endpoints: endpointsOf(stack),
    drillResultsFile: resultsFile,
    runDrill: inProcessRunner(
      (o) => runDrill({ stack, ...o, layers: DRILL_LAYERS, incident: false }),
      resultsFile,
    ),
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await page.goto(dashboard.url);
  await page.waitForSelector('[data-service="webhook-service"] [data-field="up"]');
}, 600_000); // a whole stack and the scenario, on a shared 2-core machine
afterAll(async () => {
  await browser?.close();
  await dashboard?.close();
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const field = (service: string, name: string) =>
  page.textContent(`[data-service="${service}"] [data-field="${name}"]`);
const countdownOf = async (service: string) =>
  Number(
    await page.getAttribute(
      `[data-service="${service}"] [data-field="token-expiry"][data-seconds]`,
      'data-seconds',
    ),
  );
/** The element's text once it is `expected`, or the last text seen within 20 s. */
async function untilText(selector: string, expected: string): Promise<string | null> {
  const deadline = Date.now() + 20_000;
  let seen = await page.textContent(selector, { timeout: 5000 }).catch(() => null);
  while (seen !== expected && Date.now() < deadline) {
    await page.waitForTimeout(250);
    seen = await page.textContent(selector, { timeout: 5000 }).catch(() => null);
  }
  return seen;
}
const metricsOf = async (service: (typeof SERVICE_NAMES)[number]) =>
  parsePrometheus(await (await fetch(`${stack.services[service].url}/metrics`)).text());

describeInBrowser('dashboard: the live page in headless Chromium against the real stack', () => {
  it.each(SERVICE_NAMES)(
    "shows %s's identity chain: matrix names, live version",
    async (service) => {
      const g = grantOf(service);
      expect(await field(service, 'up')).toContain('up');
      expect(await field(service, 'vault-role')).toBe(`AppRole ${service} · auth/approle/login`);
      expect(await field(service, 'secret')).toContain(secretDataPathOf(service));
      expect(await field(service, 'redis-user')).toBe(service);
      expect(await field(service, 'provider-client')).toBe(
        `${service} · ${g.oauth.tokenEndpointAuthMethod}`,
      );
      const scopes = await page.$$eval(
        `[data-service="${service}"] [data-field="scopes"] .pill`,
        (pills) => pills.map((p) => p.textContent),
      );
      expect(scopes).toEqual([...g.oauth.scopes]);
      const callers = (await field(service, 'callers')) ?? '';
      for (const route of g.http.routes) {
        expect(callers).toContain(`${route.method} ${route.path}`);
        if ('callers' in route) for (const c of route.callers) expect(callers).toContain(c);
      }
      // the version Vault holds now, as the service reports it
      const meta = await fetch(`${stack.vault.addr}/v1/${secretMetadataPathOf(service)}`, {
        headers: { 'x-vault-token': stack.vault.rootToken },
      });
      const version = ((await meta.json()) as { data: { current_version: number } }).data
        .current_version;
      const shown = `[data-service="${service}"] [data-field="secret-version"]`;
      expect(await untilText(shown, `v${version}`)).toBe(`v${version}`);
    },
  );

  it.each(SERVICE_NAMES)(
    "counts %s's provider token down: positive, falling, as its /metrics says",
    async (service) => {
      const first = await countdownOf(service);
      // one provider client per service: its only token gauge
      const reported = valueOf(await metricsOf(service), 'lpi_token_seconds_to_expiry');
      expect(first).toBeGreaterThan(0);
      expect(reported).not.toBeNull();
      expect(Math.abs(first - (reported ?? 0))).toBeLessThan(10);
      await page.waitForTimeout(3000);
      expect(await countdownOf(service)).toBeLessThan(first);
    },
  );

  it("shows the provider's ledger as the provider holds it", async () => {
    const ledger = await stack.sandbox.admin.ledger();
    const payments = ledger.payments.filter((p) => p.currency === 'EUR');
    expect(payments.length).toBeGreaterThan(0);
    const entries = '[data-ledger="payment:EUR"] [data-field="entries"]';
    expect(await untilText(entries, String(payments.length))).toBe(String(payments.length));
    const amount = payments.reduce((n, p) => n + Number(p.amount), 0);
    expect(await page.textContent('[data-ledger="payment:EUR"] [data-field="amount"]')).toBe(
      (amount / 100).toFixed(2),
    );
  });

  it('shows every queue, and the jobs the scenario ran through them', async () => {
    const rows = await page.$$eval('[data-queue]', (r) =>
      r.map((q) => q.getAttribute('data-queue')),
    );
    expect(rows).toEqual([
      'payments',
      'payment-events',
      'refunds',
      'refund-events',
      'provider-events',
    ]);
    const processed = await page.textContent('[data-queue="payments"] [data-field="processed"]');
    expect(Number(processed?.split(' / ')[0])).toBeGreaterThanOrEqual(3);
    expect(await page.textContent('[data-queue="payments"] [data-field="waiting"]')).toMatch(
      /^\d+$/,
    );
  });

  it("runs the drill from the page's button and shows its grid: every row, expected vs observed", async () => {
    expect(await page.textContent('#drill-summary')).toBe('no drill has run yet');
    await page.click('#run-drill');
    await page.waitForSelector('#drill-progress:not([hidden])');
    await dashboard.drill.settled();
    await page.waitForSelector('[data-grid-service] .dot', { timeout: 10_000 });

    const results = JSON.parse(readFileSync(resultsFile, 'utf8')) as DrillResultsFile;
    expect(results.rows.length).toBeGreaterThan(40);
    const dots = await page.$$eval('#drill-grid .dot', (ds) =>
      ds.map((d) => ({
        service: d.getAttribute('data-service'),
        layer: d.getAttribute('data-layer'),
        capability: d.getAttribute('data-capability'),
        expected: d.getAttribute('data-expected'),
        actual: d.getAttribute('data-observed'),
        ok: d.getAttribute('data-ok') === 'true',
        cls: d.className,
      })),
    );
    expect(dots.map(({ cls: _cls, ...d }) => d)).toEqual(
      results.rows.map((r) => ({
        service: r.service,
        layer: r.layer,
        capability: r.capability,
        expected: r.expected,
        actual: r.actual,
        ok: r.ok,
      })),
    );
    for (const d of dots) expect(d.cls).toBe(`dot ${d.ok ? d.expected : 'fail'}`);
    // the grid is services × layers, and a cell tells allowed from denied
    expect(await page.$$eval('[data-grid-service]', (r) => r.length)).toBe(SERVICE_NAMES.length);
    const moneyByReporting = dots.find(
      (d) =>
        d.service === 'reporting-service' &&
        d.layer === 'oauth' &&
        d.capability === 'token with payments:write',
    );
    expect(moneyByReporting).toMatchObject({ expected: 'deny', ok: true });
    expect(moneyByReporting?.actual).toMatch(/^denied/);
    const ownSecret = dots.find(
      (d) =>
        d.service === 'payment-service' &&
        d.capability === `read ${secretDataPathOf('payment-service')}`,
    );
    expect(ownSecret).toMatchObject({ expected: 'allow', actual: 'allowed (200)', ok: true });
    expect(await page.textContent('#drill-summary')).toContain(
      `${results.rows.length - results.failures}/${results.rows.length} expectations held`,
    );
  });

  it('shows and serves no secret: no token, password, key or client secret', async () => {
    const secrets = await stackSecrets(stack);
    const served = [await page.content(), await (await fetch(`${dashboard.url}api/state`)).text()];
    for (const text of served) {
      expect(secrets.filter((s) => text.includes(s))).toEqual([]);
      expect(text).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}\.eyJ/);
      expect(text).not.toContain('PRIVATE KEY');
    }
  });

  it('saves a screenshot of the page (to a temporary directory)', async () => {
    const shot = join(dir, 'dashboard.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(statSync(shot).size).toBeGreaterThan(10_000);
  });
});
