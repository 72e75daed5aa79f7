// `npm run dashboard:screenshot`: docs/dashboard.png from the real page of a running
// dashboard (DASHBOARD_URL, default http://127.0.0.1:4100/ as `npm run demo -- --keep`
// serves it). Run it by hand; no test writes this tracked file.
import { join } from 'node:path';
import { chromiumInstalled, CHROMIUM, launchChromium } from './browser';
import { readDashboardConfig } from './dashboard.config';
import { REPO_ROOT } from './stack-file';

async function main() {
  if (!chromiumInstalled())
    throw new Error(`no Chromium at ${CHROMIUM} (apt-get install chromium)`);
  const { url } = readDashboardConfig();
  const browser = await launchChromium();
  try {
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(url);
    // the first poll has filled in every service card and the countdown ticks
    await page.waitForSelector('[data-service] [data-field="token-expiry"][data-seconds]');
    const out = join(REPO_ROOT, 'docs', 'dashboard.png');
    await page.screenshot({ path: out, fullPage: true });
    console.log(`wrote ${out}`);
  } finally {
    await browser.close();
  }
}

main().catch((err: unknown) => {
  console.error(`screenshot failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
