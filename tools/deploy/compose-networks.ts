/**
 * Compose's counterpart of the NetworkPolicies, derived from the access matrix. Docker
 * networks are flat (any two members reach each other on any port), so least privilege comes
 * from membership: each service has its own internal zone holding exactly the peers the
 * matrix grants (Redis, Vault, the provider when it holds scopes, and its declared service
 * callers); an entry point called by the edge alone also sits on its own `-edge` network,
 * the only kind that is not internal, so its port can be published on 127.0.0.1. The Redis
 * script loader (ADR 0018) needs Redis alone: a zone of the two of them. PostgreSQL (ADR 0031)
 * is in no service zone, where the provider sandbox also sits: each service reaches it through
 * a `-db-zone` of the two of them, and Vault and the migration job through `database-zone`.
 */
import { SERVICE_NAMES, grantOf, type ServiceName } from '@lpi/access-matrix';

export interface ComposeNetworkPlan {
  /** network name -> internal */
  networks: Record<string, boolean>;
  /** compose service -> the networks it joins, sorted */
  membership: Record<string, string[]>;
  /** compose service -> published ports (`127.0.0.1:<port>:<port>`) */
  ports: Record<string, string[]>;
}

export const zoneOf = (service: ServiceName) => `${service}-zone`;
export const edgeOf = (service: ServiceName) => `${service}-edge`;
export const BOOTSTRAP_ZONE = 'bootstrap-zone';
export const REDIS_SCRIPTS_ZONE = 'redis-scripts-zone';
export const databaseZoneOf = (service: ServiceName) => `${service}-db-zone`;
export const DATABASE_ZONE = 'database-zone';

export function composeNetworkPlan(): ComposeNetworkPlan {
  const networks: Record<string, boolean> = {
    [BOOTSTRAP_ZONE]: true,
    [REDIS_SCRIPTS_ZONE]: true,
    [DATABASE_ZONE]: true,
  };
  const membership: Record<string, Set<string>> = {
    pki: new Set(),
    bootstrap: new Set([BOOTSTRAP_ZONE]),
    vault: new Set([BOOTSTRAP_ZONE, DATABASE_ZONE]),
    'provider-sandbox': new Set([BOOTSTRAP_ZONE]),
    redis: new Set([REDIS_SCRIPTS_ZONE]),
    'redis-scripts': new Set([REDIS_SCRIPTS_ZONE]),
    postgres: new Set([DATABASE_ZONE]),
    'db-migrate': new Set([DATABASE_ZONE]),
  };
  const ports: Record<string, string[]> = {};
  for (const service of SERVICE_NAMES) membership[service] = new Set();
  for (const service of SERVICE_NAMES) {
    const grant = grantOf(service);
    const zone = zoneOf(service);
    networks[zone] = true;
    const members = [service, 'redis', 'vault'];
    if (grant.oauth.scopes.length > 0 || grant.http.callers.includes('provider'))
      members.push('provider-sandbox');
    for (const caller of grant.http.callers)
      if (caller !== 'edge' && caller !== 'provider') members.push(caller);
    for (const member of members) membership[member]?.add(zone);
    networks[databaseZoneOf(service)] = true;
    for (const member of [service, 'postgres']) membership[member]?.add(databaseZoneOf(service));
    if (grant.http.callers.includes('edge')) {
      networks[edgeOf(service)] = false;
      membership[service]?.add(edgeOf(service));
      ports[service] = [`127.0.0.1:${grant.http.port}:${grant.http.port}`];
    }
  }
  return {
    networks,
    membership: Object.fromEntries(
      Object.entries(membership).map(([name, set]) => [name, [...set].sort()]),
    ),
    ports,
  };
}
