// `npm run test:compose`: docker-compose.yml run for real, with no registry. Starts dockerd if
// none runs, makes the base images locally, builds every image from the project's Dockerfile,
// `up`, waits for health, runs the demo's scenario against the published entry points and the
// breach drill from inside the containers, then `down -v`, leaving nothing behind (also on
// failure). Exit code 0 only if everything passed.
import { join } from 'node:path';
import { ScenarioLog, scenario } from '../demo/scenario';
import { runComposeDrill } from '../drill/targets/compose';
import { ensureEngine, type Engine } from './engine';
import { ensureBaseImages } from './images';
import { ComposeStack } from './stack';

const ROOT = join(__dirname, '..', '..');
const PROJECT = 'lpi-test';
const t0 = Date.now();
const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(0)}s`;
let stepNo = 0;
const TOTAL = 7;
const step = (title: string) =>
  console.log(`\n==> [${++stepNo}/${TOTAL}] ${title}  (${elapsed()})`);
const log = (line: string) => console.log(`    ${line}`);

async function main(): Promise<number> {
  let engine: Engine | undefined;
  let stack: ComposeStack | undefined;
  let failed = 0;
  try {
    step('Docker engine');
    engine = await ensureEngine('/tmp/lpi-test-compose-dockerd.log', log);
    step(
      'base images without a registry (stand-ins for the official Node, Redis and PostgreSQL images)',
    );
    ensureBaseImages(join(ROOT, 'deploy/docker/service.Dockerfile'), log);
    stack = new ComposeStack(ROOT, PROJECT, ['docker-compose.yml', 'docker-compose.test.yml']);
    step(`build every image from deploy/docker/service.Dockerfile (${stack.tool})`);
    stack.exec(['down', '-v', '--remove-orphans'], { capture: true, allowFail: true });
    stack.exec(['build']);
    step('up, and wait until the one-shots succeeded and every service is healthy');
    // a failed `up` still goes through the health wait: it names the failure and prints logs
    const up = stack.exec(['up', '-d'], { allowFail: true });
    await stack.waitHealthy(log, up.status === 0 ? undefined : 20_000);
    step("the demo's scenario against the containers (entry points on 127.0.0.1)");
    const scenarioLog = new ScenarioLog((line) => console.log(line));
    await scenario(await stack.scenarioTarget(), scenarioLog);
    const scenarioFailures = scenarioLog.checks.filter((c) => !c.ok).length;
    console.log(
      `\nscenario: ${scenarioLog.checks.length - scenarioFailures} passed, ${scenarioFailures} failed`,
    );
    failed += scenarioFailures;
    step('breach drill from inside each compromised container');
    failed += runComposeDrill({ project: PROJECT, print: (line) => console.log(line) }).failures
      .length;
  } catch (error) {
    failed += 1;
    console.error(`\ntest:compose: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    step('down -v, and check that nothing is left');
    const left = stack?.down() ?? [];
    if (left.length) {
      failed += 1;
      console.error(`left behind: ${left.join(', ')}`);
    } else log('no container, network or volume of the project is left');
    if (engine?.startedHere) await engine.stop();
  }
  console.log(
    `\ntest:compose: ${failed === 0 ? 'passed' : `${failed} failure(s)`} in ${elapsed()}`,
  );
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
