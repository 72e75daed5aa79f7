// Summarises the V8 CPU profiles `LPI_CPU_PROF=<dir>` leaves (one per process a stack starts):
// self time by function for the services named, as a share of their busy time, with native
// socket and file writes attributed to who made them (pg, ioredis, HTTP, the log file).
//   node -r @swc-node/register tools/bench/cpu-profile-summary.ts <dir> [top] [service,...]
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const WRITES = new Set([
  'writev',
  'writeString',
  'writeBuffer',
  'writeUtf8String',
  'writeLatin1String',
]);
const START_UP = new Set(['wrapSafe', 'readFileUtf8', 'internalModuleStat', 'dlopen']);
const WRITERS: [RegExp, string][] = [
  [/\/pg\/lib\//, 'pg'],
  [/sonic-boom/, 'log file'],
  [/ioredis/, 'ioredis'],
  [/_http_|express/, 'http'],
];

const short = (url: string) =>
  url.replace(/.*node_modules\//, '').replace(/.*\/(libs|apps|tools)\//, '$1/');

function labelOf(node: ProfileNode, parentOf: Map<number, number>, byId: Map<number, ProfileNode>) {
  const { functionName, url, lineNumber } = node.callFrame;
  if (START_UP.has(functionName)) return 'module loading (start-up)';
  if (!WRITES.has(functionName))
    return `${functionName || '(anon)'} ${short(url)}:${lineNumber + 1}`;
  for (let id = parentOf.get(node.id); id !== undefined; id = parentOf.get(id)) {
    const caller = byId.get(id)?.callFrame.url ?? '';
    const hit = WRITERS.find(([pattern]) => pattern.test(caller));
    if (hit) return `write syscalls: ${hit[1]}`;
  }
  return 'write syscalls: other';
}

function summarise(dir: string, services: string[]): { busy: number; self: Map<string, number> } {
  const self = new Map<string, number>();
  let busy = 0;
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile;
    const ofService = profile.nodes.some((n) =>
      services.some((s) => n.callFrame.url.includes(`apps/${s}/src/main`)),
    );
    if (!ofService) continue;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const parentOf = new Map<number, number>();
    for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
    profile.samples.forEach((id, i) => {
      const node = byId.get(id);
      if (!node || node.callFrame.functionName === '(idle)') return;
      const us = profile.timeDeltas[i] ?? 0;
      busy += us;
      const label = labelOf(node, parentOf, byId);
      self.set(label, (self.get(label) ?? 0) + us);
    });
  }
  return { busy, self };
}

const [dir, top = '20', names = 'payment-service,webhook-service,reporting-service'] =
  process.argv.slice(2);
if (!dir) throw new Error('usage: cpu-profile-summary.ts <dir> [top] [service,...]');
const { busy, self } = summarise(dir, names.split(','));
console.log(`${names}: ${(busy / 1000).toFixed(0)} ms busy`);
for (const [label, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(top)))
  console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} %  ${label}`);
