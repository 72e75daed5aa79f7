// `npm run dashboard` settings (docs/configuration.md): where to listen, where the running
// stack is described, and which drill-results.json to show.
import { join } from 'node:path';
import { z } from 'zod';
import { loadConfig, setting } from '@lpi/service-bootstrap';
import { DEFAULT_STACK_FILE, REPO_ROOT } from './stack-file';

export interface DashboardConfig {
  host: string;
  port: number;
  stackFile: string;
  drillResultsFile: string;
  /** The page the screenshot command loads (default: this host and port). */
  url: string;
}

export const DEFAULT_DASHBOARD_PORT = 4100;

export function readDashboardConfig(
  env: Record<string, string | undefined> = process.env,
): DashboardConfig {
  const c = loadConfig(
    'dashboard',
    {
      DASHBOARD_HOST: setting.nonEmpty().default('127.0.0.1'),
      DASHBOARD_PORT: setting.port(DEFAULT_DASHBOARD_PORT),
      DASHBOARD_STACK_FILE: setting.file().default(DEFAULT_STACK_FILE),
      DASHBOARD_DRILL_RESULTS: setting.file().default(join(REPO_ROOT, 'drill-results.json')),
      DASHBOARD_URL: z.url().optional(),
    },
    env,
  );
  return {
    host: c.DASHBOARD_HOST,
    port: c.DASHBOARD_PORT,
    stackFile: c.DASHBOARD_STACK_FILE,
    drillResultsFile: c.DASHBOARD_DRILL_RESULTS,
    url: c.DASHBOARD_URL ?? `http://${c.DASHBOARD_HOST}:${c.DASHBOARD_PORT}/`,
  };
}

/**
 * The browser test skips (saying why) only where no Chromium is installed and the run does
 * not require one: CI sets LPI_REQUIRE_BROWSER, so it never skips there.
 */
export const browserRequired = (env: Record<string, string | undefined> = process.env): boolean =>
  Boolean(env.LPI_REQUIRE_BROWSER);
