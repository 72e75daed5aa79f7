// `npm run drill`: the breach drill. For each service in turn, take everything an attacker
// who owns it would hold (loot.ts) and try every capability in the system, one probe per
// layer (probes/). Expected outcomes come from the access matrix, plus fixed assertions
// that never do; every row's verdict is an observation held against its expectation.
// runDrill() writes nothing; the command prints the table and writes drill-results.json
// and docs/blast-radius.md (report.ts), and exits 1 if any expectation failed.
import { join } from 'node:path';
import { SERVICE_NAMES } from '@lpi/access-matrix';
import { startStack, type Stack } from '../demo/stack';
import { INCIDENT_SERVICES, incidentSection } from './incident-section';
import { lootAll, seedPayment } from './loot';
import type { Probe, ProbeContext } from './probes/context';
import { databaseProbe } from './probes/database';
import { edgeProbe } from './probes/edge';
import { httpProbeWith, mintCallerTokens, type CallerTokens } from './probes/http';
import { mtlsProbe } from './probes/mtls';
import { oauthProbe } from './probes/oauth';
import { redisProbe } from './probes/redis';
import { vaultProbe } from './probes/vault';
import { renderTable, summaryLine, writeReport } from './report';
import { Rows, type DrillRow, type Layer } from './rows';

export type { DrillRow, Layer } from './rows';
export interface DrillResult {
  rows: DrillRow[];
  failures: DrillRow[];
  positiveControls: number;
}

/** The layers, in the order they are attacked (caller tokens minted once, on first use). */
export function probes(stack: Stack): readonly [Layer, Probe][] {
  let tokens: Promise<CallerTokens> | undefined;
  return [
    ['http', httpProbeWith(() => (tokens ??= mintCallerTokens(stack)))],
    ['oauth', oauthProbe],
    ['mtls', mtlsProbe],
    ['vault', vaultProbe],
    ['redis', redisProbe],
    ['database', databaseProbe],
    ['edge', edgeProbe],
  ];
}

export interface DrillOptions {
  stack?: Stack;
  print?: (line: string) => void;
  /** Attack only these layers (default: every layer). */
  layers?: readonly Layer[];
  /** Run the incident section after the layers (default: true). */
  incident?: boolean;
}

export async function runDrill(options: DrillOptions = {}): Promise<DrillResult> {
  const print = options.print ?? ((l: string) => console.log(l));
  print('==> breach drill: starting the stack');
  const stack =
    options.stack ?? (await startStack({ tokenTtlSeconds: 6, rateLimitPerMinute: 6000 }));
  const rows = new Rows();
  try {
    const ctx: ProbeContext = {
      stack,
      loot: await lootAll(stack),
      paymentId: await seedPayment(stack),
      rows,
      print,
    };
    const layers = probes(stack).filter(
      ([layer]) => !options.layers || options.layers.includes(layer as Layer),
    );
    for (const service of SERVICE_NAMES) {
      print(`\n==> ${service} is compromised`);
      for (const [layer, probe] of layers) {
        print(`    ${layer}`);
        await probe(ctx, service);
      }
    }
    if (options.incident !== false)
      for (const service of INCIDENT_SERVICES) await incidentSection(ctx, service);
  } finally {
    if (!options.stack) await stack.stop();
  }
  const failures = rows.all.filter((r) => !r.ok);
  print(renderTable(rows.all));
  print(`\n${summaryLine(rows.all)}`);
  return {
    rows: rows.all,
    failures,
    positiveControls: rows.all.filter((r) => r.expected === 'allow' && r.ok).length,
  };
}

const argOf = (name: string) => {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
};

if (require.main === module && argOf('--target') === 'kubernetes') {
  // the drill as Jobs that run inside the cluster, from each service's own network position
  import('./targets/kubernetes')
    .then(({ renderKubernetesDrill }) =>
      process.stdout.write(renderKubernetesDrill(argOf('--overlay') ?? 'local')),
    )
    .catch((err: unknown) => {
      console.error(`cannot render the drill: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    });
} else if (require.main === module && argOf('--target') === 'compose') {
  // the breach drill from inside a running `docker compose` stack's containers
  import('./targets/compose')
    .then(({ runComposeDrill }) => runComposeDrill({ project: argOf('--project') }))
    .then((r) => process.exit(r.failures.length ? 1 : 0))
    .catch((err: unknown) => {
      console.error(
        `breach drill failed to run: ${err instanceof Error ? err.message : String(err)}`,
      );
      process.exit(1);
    });
} else if (require.main === module) {
  runDrill()
    .then((r) => {
      writeReport(join(__dirname, '..', '..'), r.rows);
      console.log('    wrote drill-results.json and docs/blast-radius.md');
      process.exit(r.failures.length ? 1 : 0);
    })
    .catch((err: unknown) => {
      console.error(
        `breach drill failed to run: ${err instanceof Error ? err.message : String(err)}`,
      );
      process.exit(1);
    });
}
