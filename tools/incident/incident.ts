// `npm run incident -- <service>`: the incident runbook (runbook.ts) against a running
// deployment, configured by incident.config.ts. Steps in order, each printed as it ends;
// exits 1 at the first step that fails (rerunning is safe: every step is idempotent or
// replaces what the previous run did).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { SERVICE_NAMES, isServiceName, type ServiceName } from '@lpi/access-matrix';
import { caIssuer } from './certificates';
import { readIncidentConfig, type IncidentConfig } from './incident.config';
import { IncidentError, type IncidentPorts } from './ports';
import { runIncident } from './runbook';

function run(cmd: string, args: string[]): string {
  const res = spawnSync(cmd, args, { stdio: 'inherit' });
  if (res.status !== 0)
    throw new IncidentError('restart_failed', `${cmd} ${args.join(' ')} exited with ${res.status}`);
  return `${cmd} ${args.join(' ')}`;
}

function restarter(c: IncidentConfig): IncidentPorts['restart'] {
  return async (service, { wrappedSecretId }) => {
    if (c.platform === 'kubernetes') {
      run('kubectl', ['-n', c.k8sNamespace, 'rollout', 'restart', `deployment/${service}`]);
      return run('kubectl', ['-n', c.k8sNamespace, 'rollout', 'status', `deployment/${service}`]);
    }
    if (!c.identityDir || !wrappedSecretId)
      return 'INCIDENT_IDENTITY_DIR is not set: deliver the new wrapped secret-id and restart the service by hand';
    const dir = join(c.identityDir, service);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'wrapped-secret-id'), wrappedSecretId, { mode: 0o600 });
    if (c.platform === 'compose') return run('docker', ['compose', 'restart', service]);
    return `new wrapped secret-id written to ${dir}; restart ${service} now (it unwraps it once)`;
  };
}

export async function main(argv: string[]): Promise<void> {
  const service = argv[0];
  if (!service || !isServiceName(service))
    throw new IncidentError(
      'unknown_service',
      `usage: npm run incident -- <service>, one of ${SERVICE_NAMES.join(', ')}`,
    );
  const c = readIncidentConfig();
  const redis = new Redis({
    host: c.redis.host,
    port: c.redis.port,
    username: c.redis.username,
    password: c.redis.password,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    const report = await runIncident(service as ServiceName, {
      vault: { addr: c.vaultAddr, ca: c.vaultCa, token: c.vaultToken },
      provider: { baseUrl: c.providerAdminUrl, token: c.providerAdminToken, caCert: c.providerCa },
      redis: { call: (cmd, ...args) => redis.call(cmd, ...args) },
      issueCertificate: caIssuer(c.ca.cert, c.ca.key),
      identity: c.platform === 'kubernetes' ? 'kubernetes' : 'approle',
      restart: restarter(c),
      log: (line) => console.log(line),
    });
    console.log(
      `==> incident: ${service} re-issued (Vault secret version ${report.secretVersion}); run \`npm run drill\` to verify`,
    );
  } finally {
    redis.disconnect();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    const code = (err as { code?: string }).code;
    console.error(
      `incident failed${code ? ` (${code})` : ''}: ${err instanceof Error ? err.message : String(err)}`,
    );
    process.exit(1);
  });
}
