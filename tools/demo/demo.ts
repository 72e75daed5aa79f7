// `npm run demo`: starts the whole stack, runs the payment -> refund -> webhook -> report
// scenario through the real processes, shows what a compromised service cannot do, prints
// a summary, and exits 0 only if every claim held. Everything it starts, it stops (Ctrl-C
// too). `--keep` leaves the stack running.
import { ScenarioLog, compromisedReporting, scenario } from './scenario';
import { runDrill } from '../drill/drill';
import { readDashboardConfig } from '../dashboard/dashboard.config';
import { inProcessRunner } from '../dashboard/drill-runs';
import { startDashboard, type Dashboard } from '../dashboard/server';
import { endpointsOf, removeStackFile, writeStackFile } from '../dashboard/stack-file';
import { startStack, type Stack } from './stack';

const log = new ScenarioLog();
const checks = log.checks;
const step = (t: string) => log.step(t);
const elapsed = () => log.elapsed();

let stack: Stack | undefined;
let dashboard: Dashboard | undefined;
const dashboardConfig = readDashboardConfig();
const cleanup = async () => {
  if (dashboard) {
    await dashboard.close().catch(() => undefined);
    removeStackFile(dashboardConfig.stackFile); // this run wrote it
  }
  dashboard = undefined;
  await stack?.stop().catch(() => undefined);
  stack = undefined;
};

/** --keep: the live page on this stack; its drill button drills this very stack. */
async function startKeptDashboard(s: Stack): Promise<Dashboard> {
  writeStackFile(dashboardConfig.stackFile, endpointsOf(s));
  return startDashboard({
    endpoints: endpointsOf(s),
    drillResultsFile: dashboardConfig.drillResultsFile,
    runDrill: inProcessRunner(
      (o) => runDrill({ stack: s, ...o }),
      dashboardConfig.drillResultsFile,
    ),
    host: dashboardConfig.host,
    port: dashboardConfig.port,
  });
}
process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
process.once('SIGTERM', () => void cleanup().then(() => process.exit(143)));

async function main() {
  const keep = process.argv.includes('--keep');
  step('start the stack');
  // 10 s tokens, so that the incident drill can show a stolen token dying within the demo
  stack = await startStack({ tokenTtlSeconds: 10, log: (line) => console.log(`    ${line}`) });
  await scenario(stack, log);
  await compromisedReporting(stack, log);
  if (!keep) {
    step('the breach drill: every service compromised in turn, every capability at every layer');
    const drill = await runDrill({ stack, print: () => undefined });
    log.expectThat(
      'breach drill',
      drill.failures.length === 0,
      `${drill.rows.length - drill.failures.length}/${drill.rows.length} expectations held (${drill.positiveControls} positive controls)`,
    );
    for (const f of drill.failures)
      log.expectThat(
        `${f.service} ${f.layer}: ${f.capability}`,
        false,
        `expected ${f.expected}, got ${f.actual}`,
      );
  }

  const failed = checks.filter((c) => !c.ok);
  console.log(
    `\n==> summary: ${checks.length - failed.length}/${checks.length} checks held in ${elapsed()}`,
  );
  for (const f of failed) console.log(`    ✗ ${f.step}: ${f.detail}`);
  if (keep) {
    dashboard = await startKeptDashboard(stack);
    console.log('\n--keep: the stack stays up (Ctrl-C stops it):');
    console.log(`    dashboard          ${dashboard.url}`);
    for (const [name, svc] of Object.entries(stack.services))
      console.log(`    ${name.padEnd(18)} ${svc.url}`);
    console.log(`    provider sandbox   ${stack.sandbox.issuer}  ${stack.sandbox.apiBaseUrl}/v1`);
    console.log(`    vault              ${stack.vault.addr}`);
    console.log(`    redis              ${stack.redis.url}`);
    console.log(
      `    metrics            <service URL>/metrics, ${stack.sandbox.apiBaseUrl}/metrics (docs/operations.md)`,
    );
    return failed.length;
  }
  await cleanup();
  return failed.length;
}

main()
  .then((failures) => {
    if (!process.argv.includes('--keep')) process.exit(failures ? 1 : 0);
  })
  .catch(async (err: unknown) => {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    await cleanup();
    process.exit(1);
  });
