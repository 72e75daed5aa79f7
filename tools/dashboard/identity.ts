// The static half of each service's identity chain, read from the access matrix: how it
// logs in to Vault, which secret it reads, its provider client and scopes, its Redis ACL
// user and queues, and who may call which of its routes. Names only.
import {
  SERVICE_NAMES,
  grantOf,
  isCallerRoute,
  isSignedRoute,
  routeKey,
  secretDataPathOf,
  type ServiceName,
} from '@lpi/access-matrix';

export interface IdentityChain {
  service: ServiceName;
  purpose: string;
  vault: { role: string; loginPath: string; secretPath: string };
  provider: { clientId: string; authMethod: string; scopes: string[] };
  redis: { user: string; produces: string[]; consumes: string[] };
  http: { route: string; callers: string[] }[];
}

/** Who may call a route, as the page shows it. */
const callersOfRoute = (route: ReturnType<typeof grantOf>['http']['routes'][number]) =>
  isCallerRoute(route)
    ? [...route.callers]
    : isSignedRoute(route)
      ? [`${route.signedBy} (${route.scheme} signature)`]
      : ['anyone'];

export function identityChainOf(service: ServiceName): IdentityChain {
  const g = grantOf(service);
  return {
    service,
    purpose: g.purpose,
    // one name everywhere: the AppRole, the OAuth client and the Redis user are the service
    vault: {
      role: service,
      loginPath: 'auth/approle/login',
      secretPath: secretDataPathOf(service),
    },
    provider: {
      clientId: service,
      authMethod: g.oauth.tokenEndpointAuthMethod,
      scopes: [...g.oauth.scopes],
    },
    redis: { user: service, produces: [...g.queues.produces], consumes: [...g.queues.consumes] },
    http: g.http.routes.map((r) => ({ route: routeKey(r), callers: callersOfRoute(r) })),
  };
}

export const identityChains = (): IdentityChain[] => SERVICE_NAMES.map(identityChainOf);
