// Where the dashboard finds a running stack: `npm run demo -- --keep` writes the services'
// URLs and the provider API's address (with the path of its CA certificate) to
// .demo/stack.json (gitignored), and a standalone `npm run dashboard` reads them back.
// Addresses only: no token, password or key ever goes into this file.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { SERVICE_NAMES, type ServiceName } from '@lpi/access-matrix';
import type { Stack } from '../demo/stack';

export const REPO_ROOT = join(__dirname, '..', '..');
export const DEFAULT_STACK_FILE = join(REPO_ROOT, '.demo', 'stack.json');

const endpointsSchema = z.object({
  services: z.object(
    Object.fromEntries(SERVICE_NAMES.map((s) => [s, z.url()])) as Record<ServiceName, z.ZodURL>,
  ),
  provider: z.object({ apiBaseUrl: z.url(), caFile: z.string().min(1) }),
  vault: z.object({ addr: z.url() }),
});
export type StackEndpoints = z.infer<typeof endpointsSchema>;

export class StackFileError extends Error {
  readonly code = 'DASHBOARD_STACK_FILE';
}

export function endpointsOf(stack: Stack): StackEndpoints {
  return {
    services: Object.fromEntries(SERVICE_NAMES.map((s) => [s, stack.services[s].url])) as Record<
      ServiceName,
      string
    >,
    provider: { apiBaseUrl: stack.sandbox.apiBaseUrl, caFile: join(stack.dir, 'ca.crt') },
    vault: { addr: stack.vault.addr },
  };
}

export function writeStackFile(file: string, endpoints: StackEndpoints): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(endpointsSchema.parse(endpoints), null, 2)}\n`);
}

export function removeStackFile(file: string): void {
  rmSync(file, { force: true });
}

export function readStackFile(file: string): StackEndpoints {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new StackFileError(
      `no stack file at ${file}: start the stack with \`npm run demo -- --keep\` (it writes one), or set DASHBOARD_STACK_FILE`,
    );
  }
  const parsed = endpointsSchema.safeParse(JSON.parse(text));
  if (!parsed.success)
    throw new StackFileError(`${file} is not a stack file: ${parsed.error.issues[0].message}`);
  return parsed.data;
}
