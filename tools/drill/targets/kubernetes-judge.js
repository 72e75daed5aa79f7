// Runs INSIDE the cluster, in a Job pod that wears a compromised service's labels and
// ServiceAccount (so the same NetworkPolicies and Vault role apply to it): `node judge.js
// <plan.json>`. Each probe of the plan runs through probe.js (the compose target's probes) or
// here (Vault login with the pod's projected token); each observation is held against the
// expectation the access matrix gave when the plan was rendered. Prints the table, one JSON
// summary line, and exits 1 if any row failed. Never prints a token or a file's content.
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');

const plan = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));

function vaultLogin(p) {
  let jwt;
  try {
    jwt = fs.readFileSync(p.tokenFile, 'utf8').trim();
  } catch (e) {
    return Promise.resolve(`denied: ${e.code}`);
  }
  const url = new URL(`${p.vault}/v1/auth/kubernetes/login`);
  const ca = p.caFile && fs.existsSync(p.caFile) ? fs.readFileSync(p.caFile) : undefined;
  return new Promise((resolve) => {
    const req = https.request(
      url,
      { method: 'POST', ca, timeout: 5000, headers: { 'content-type': 'application/json' } },
      (res) => {
        res.resume();
        res.on('end', () =>
          resolve(`${res.statusCode === 200 ? 'allowed' : 'denied'}: HTTP ${res.statusCode}`),
        );
      },
    );
    req.on('timeout', () =>
      req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })),
    );
    req.on('error', (e) => resolve(`denied: ${e.code || e.name}`));
    req.end(JSON.stringify({ role: p.role, jwt }));
  });
}

(async () => {
  const generic = plan.rows.filter((r) => r.probe.kind !== 'vault-login');
  const observed = new Map();
  if (generic.length) {
    const out = execFileSync(
      process.execPath,
      [
        '-e',
        fs.readFileSync(path.join(__dirname, 'probe.js'), 'utf8'),
        JSON.stringify(generic.map((r) => r.probe)),
      ],
      { encoding: 'utf8', timeout: 120000 },
    );
    const results = JSON.parse(out.trim().split('\n').pop());
    generic.forEach((r, i) => observed.set(r, results[i]));
  }
  for (const r of plan.rows.filter((x) => x.probe.kind === 'vault-login'))
    observed.set(r, await vaultLogin(r.probe));
  let failed = 0;
  for (const r of plan.rows) {
    const actual = observed.get(r) || 'error: no result';
    const ok = (r.expected === 'allow') === actual.startsWith('allowed');
    if (!ok) failed += 1;
    console.log(
      `${plan.service.padEnd(18)} ${r.layer.padEnd(8)} ${r.capability.padEnd(56)} ${r.expected.padEnd(6)} ${actual.padEnd(40)} ${ok ? 'ok' : 'FAIL'}`,
    );
  }
  console.log(JSON.stringify({ service: plan.service, rows: plan.rows.length, failed }));
  process.exit(failed ? 1 : 0);
})();
