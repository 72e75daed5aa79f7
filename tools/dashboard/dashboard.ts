// `npm run dashboard`: the live page for a running stack, standalone. It reads the stack's
// addresses from the stack file `npm run demo -- --keep` writes (.demo/stack.json, or
// DASHBOARD_STACK_FILE) and the last drill from drill-results.json (DASHBOARD_DRILL_RESULTS).
// Its drill button runs `npm run drill`, which brings up a stack of its own: this process
// holds no credential of the running one. `npm run demo -- --keep` starts the same page
// in-process instead, where the button drills the demo's own stack.
import { readDashboardConfig } from './dashboard.config';
import { childProcessRunner } from './drill-runs';
import { startDashboard } from './server';
import { readStackFile } from './stack-file';

async function main() {
  const config = readDashboardConfig();
  const dashboard = await startDashboard({
    endpoints: readStackFile(config.stackFile),
    drillResultsFile: config.drillResultsFile,
    runDrill: childProcessRunner(),
    host: config.host,
    port: config.port,
  });
  console.log(`dashboard: ${dashboard.url} (Ctrl-C stops it)`);
  const stop = () => void dashboard.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: unknown) => {
  console.error(`dashboard failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
