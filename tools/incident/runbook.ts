// The incident runbook as code. Order matters: the identity is revoked first, so that
// nothing rotated afterwards can be read by the attacker through the service's own Vault
// token; then the attacker's live sessions are cut; then every credential is replaced; and
// only then does the service get a new identity and restart (docs/adr/0017).
import { randomBytes } from 'node:crypto';
import { grantOf, type ServiceName } from '@lpi/access-matrix';
import type { IncidentPorts } from './ports';
import {
  newAssertionKey,
  reregister,
  revokeIssuedTokens,
  rotateClientSecret,
} from './provider.steps';
import {
  destroySecretIds,
  newWrappedSecretId,
  readSecret,
  revokeServiceTokens,
  writeSecret,
} from './vault.steps';

export interface IncidentReport {
  service: ServiceName;
  steps: { step: string; detail: string }[];
  /** The Vault version the restarted service reads. */
  secretVersion: number;
}

export const RUNBOOK_STEPS = [
  'revoke the Vault identity: every token of the service, every secret-id of its AppRole',
  'cut Redis: new password for the service user, kill its open connections',
  'rotate provider credentials: client secret or assertion key, client certificate; revoke issued tokens',
  'write the new secret version to Vault',
  'issue a new identity (wrapped secret-id) and restart the service on it',
] as const;

export async function runIncident(
  service: ServiceName,
  ports: IncidentPorts,
): Promise<IncidentReport> {
  const steps: IncidentReport['steps'] = [];
  const done = (i: number, detail: string) => {
    steps.push({ step: RUNBOOK_STEPS[i], detail });
    ports.log(`[${i + 1}/${RUNBOOK_STEPS.length}] ${RUNBOOK_STEPS[i]}: ${detail}`);
  };
  // read before revoking: the fields the service holds besides the ones rotated here
  const previous = await readSecret(ports.vault, service);

  // 1. identity
  const tokens = await revokeServiceTokens(ports.vault, service);
  const secretIds =
    ports.identity === 'approle'
      ? `${await destroySecretIds(ports.vault, service)} secret-id(s) destroyed`
      : "Kubernetes auth: no secret-id; the restart replaces the pod's projected token";
  done(0, `${tokens} token(s) revoked, ${secretIds}`);

  // 2. Redis: the new password first, so a killed session cannot reconnect
  const redisPassword = randomBytes(32).toString('base64url');
  await ports.redis.call('ACL', 'SETUSER', service, 'resetpass', `>${redisPassword}`);
  const killed = await ports.redis.call('CLIENT', 'KILL', 'USER', service);
  const saved = await ports.redis.call('ACL', 'SAVE').then(
    () => 'ACL file saved',
    () => 'no ACL file to save (re-render it from Vault before a Redis restart)',
  );
  done(1, `password reset, ${String(killed)} connection(s) killed, ${saved}`);

  // 3. provider credentials
  const keyJwt = grantOf(service).oauth.tokenEndpointAuthMethod === 'private_key_jwt';
  const certificate = await ports.issueCertificate(service);
  const assertionKey = keyJwt ? newAssertionKey() : undefined;
  await reregister(ports.provider, service, certificate.cert, assertionKey);
  const clientSecret = keyJwt ? undefined : await rotateClientSecret(ports.provider, service);
  await revokeIssuedTokens(ports.provider, service);
  done(
    2,
    `${keyJwt ? 'new assertion key registered' : 'client secret rotated, old one retired'}, new certificate registered (x5t#S256 pinned), issued tokens revoked`,
  );

  // 4. the new secret version (rotation fields of a previous window are dropped)
  const data: Record<string, string> = Object.fromEntries(
    Object.entries(previous).filter(([k]) => !/_next$|_previous$/.test(k)),
  );
  Object.assign(data, {
    client_cert: certificate.cert,
    client_key: certificate.key,
    redis_password: redisPassword,
    ...(clientSecret ? { client_secret: clientSecret } : {}),
    ...(assertionKey ? { client_assertion_key: assertionKey } : {}),
  });
  const secretVersion = await writeSecret(ports.vault, service, data);
  done(3, `version ${secretVersion}`);

  // 5. new identity, restart
  const wrappedSecretId =
    ports.identity === 'approle' ? await newWrappedSecretId(ports.vault, service) : undefined;
  const how = await ports.restart(service, { wrappedSecretId });
  done(4, how);
  return { service, steps, secretVersion };
}
