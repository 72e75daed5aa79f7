/**
 * The access matrix: every grant in the system, declared once.
 *
 * Vault policies, Redis ACL users, the provider's client registrations, the Kubernetes
 * ServiceAccounts and NetworkPolicies, the compose file and the breach drill are all
 * generated from or checked against this file. Widening a grant means editing it here,
 * regenerating, and letting review see the diff in every layer at once.
 */

export const SERVICE_NAMES = [
  'payment-service',
  'refund-service',
  'reporting-service',
  'webhook-service',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** Every scope the provider's authorization server knows. */
export const PROVIDER_SCOPES = [
  'payments:write',
  'payments:read',
  'refunds:write',
  'refunds:read',
  'transactions:read',
  'webhooks:manage',
] as const;
export type ProviderScope = (typeof PROVIDER_SCOPES)[number];

/**
 * Every BullMQ queue. A queue's keys live under `bull:{<name>}:*` in Redis: the `{<name>}` hash
 * tag puts all of them in one Redis Cluster slot (ADR 0028).
 */
export const QUEUE_NAMES = [
  'payments',
  'payment-events',
  'refunds',
  'refund-events',
  'provider-events',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

/**
 * The merchant's record of money (PostgreSQL, database `lpi`): one schema per owning service.
 * A table belongs to exactly one service; no service reads or writes another's schema
 * (reporting-service keeps its own read model, fed by the events it consumes).
 */
export const TABLE_NAMES = [
  'payments.requests',
  'refunds.requests',
  'webhooks.events',
  'reporting.payments',
  'reporting.refunds',
  'reporting.provider_events',
  'reporting.provider_transactions',
  'reporting.sync_state',
  'reporting.totals',
] as const;
export type TableName = (typeof TABLE_NAMES)[number];
/** No DELETE anywhere: a record of money is corrected by a new row or a new state, never erased. */
export type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE';

export type TokenEndpointAuthMethod =
  'client_secret_basic' | 'client_secret_post' | 'tls_client_auth' | 'private_key_jwt';

/** Fields every service's Vault secret holds; some services add their own. */
export const COMMON_SECRET_FIELDS = [
  'client_id',
  'client_secret',
  'client_cert',
  'client_key',
  'redis_password',
] as const;
/**
 * A private_key_jwt client holds no shared secret: it signs a short-lived assertion with its
 * own P-256 key (`client_assertion_key`, PKCS#8 PEM), whose public half the provider holds.
 */
export const KEY_JWT_SECRET_FIELDS = [
  'client_id',
  'client_assertion_key',
  'client_cert',
  'client_key',
  'redis_password',
] as const;
export type SecretField =
  (typeof COMMON_SECRET_FIELDS)[number] | (typeof KEY_JWT_SECRET_FIELDS)[number] | 'webhook_secret';

/**
 * Callers: the identities that call the services' HTTP routes (edge clients, consoles). Each
 * has its own Vault identity and mints short-lived JWTs for one service at a time (Vault
 * identity tokens, ADR 0014). The four services call none of these routes: they talk over
 * queues, and no service is a caller.
 */
export const CALLER_NAMES = ['checkout', 'support-console', 'finance-dashboard'] as const;
export type CallerName = (typeof CALLER_NAMES)[number];

/** The merchant's own route scopes (not the provider's): what a caller token may do. */
export const ROUTE_SCOPES = [
  'payments:create',
  'payments:read',
  'refunds:create',
  'refunds:read',
  'reports:read',
] as const;
export type RouteScope = (typeof ROUTE_SCOPES)[number];

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export type NetworkPeer = 'edge' | 'provider' | ServiceName;

/** A route called with a caller token: `aud` = the service, `scope` must hold `scope`. */
export interface CallerRoute {
  readonly method: HttpMethod;
  /** Nest-style path, parameters as `:name`. */
  readonly path: string;
  readonly scope: RouteScope;
  readonly callers: readonly CallerName[];
}
/** A route authenticated by the sender's signature instead (Standard Webhooks). */
export interface SignedRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly signedBy: 'provider';
  readonly scheme: 'standard-webhooks';
}
/** A route anyone may call: health probes, the metrics scrape and the API description only. */
export interface PublicRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly public: true;
}
export type RouteGrant = CallerRoute | SignedRoute | PublicRoute;

/**
 * Every service serves these with no token: ServiceBootstrapModule's probes, the Prometheus
 * scrape (`/metrics` holds no id or secret: label values are templates, names, codes) and the
 * API description IntegrationRuntimeModule serves (ADR 0024).
 */
export const PUBLIC_ROUTES: readonly PublicRoute[] = [
  { method: 'GET', path: '/health/live', public: true },
  { method: 'GET', path: '/health/ready', public: true },
  { method: 'GET', path: '/metrics', public: true },
  { method: 'GET', path: '/openapi.json', public: true },
];

export interface ServiceGrant {
  readonly name: ServiceName;
  /** What the service is for, in one line (shown in docs and the drill). */
  readonly purpose: string;
  readonly oauth: {
    readonly scopes: readonly ProviderScope[];
    readonly tokenEndpointAuthMethod: TokenEndpointAuthMethod;
    /** Register the client for the seed-002 style refresh_token extension. */
    readonly refreshTokens: boolean;
  };
  /** The service's own KV v2 secret; read only, nothing else. */
  readonly vault: { readonly secretFields: readonly SecretField[] };
  readonly queues: {
    readonly produces: readonly QueueName[];
    readonly consumes: readonly QueueName[];
  };
  /**
   * Its PostgreSQL grants: a NOLOGIN group role holding exactly these table privileges; Vault's
   * database secrets engine creates short-lived login users in that role (`database/creds/<name>`).
   */
  readonly database: {
    readonly schema: string;
    readonly tables: Readonly<Partial<Record<TableName, readonly TablePrivilege[]>>>;
  };
  /** Inbound HTTP: every route, and who may call it with which scope. */
  readonly http: {
    readonly port: number;
    /** Every route of the service besides PUBLIC_ROUTES; anything else is refused. */
    readonly routes: readonly RouteGrant[];
    /**
     * Network zones the traffic comes from (NetworkPolicy ingress peers, compose networks):
     * `edge` where caller identities call in, `provider` for signed webhooks. Who may call a
     * route is decided per route, by caller identity, in `routes`.
     */
    readonly callers: readonly NetworkPeer[];
  };
}

export const ACCESS_MATRIX: Readonly<Record<ServiceName, ServiceGrant>> = {
  'payment-service': {
    name: 'payment-service',
    purpose: 'accepts payment requests and charges them at the provider',
    oauth: {
      scopes: ['payments:write', 'payments:read'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      refreshTokens: false,
    },
    vault: { secretFields: COMMON_SECRET_FIELDS },
    queues: { produces: ['payments', 'payment-events'], consumes: ['payments'] },
    database: {
      schema: 'payments',
      tables: { 'payments.requests': ['SELECT', 'INSERT', 'UPDATE'] },
    },
    http: {
      port: 3101,
      routes: [
        { method: 'POST', path: '/payments', scope: 'payments:create', callers: ['checkout'] },
        {
          method: 'GET',
          path: '/payments/:id',
          scope: 'payments:read',
          callers: ['checkout', 'support-console'],
        },
      ],
      callers: ['edge'],
    },
  },
  'refund-service': {
    name: 'refund-service',
    purpose: 'accepts refund requests and applies them at the provider',
    oauth: {
      scopes: ['refunds:write', 'refunds:read'],
      // no shared secret at all: a signed client assertion (RFC 7523), see docs/adr/0010
      tokenEndpointAuthMethod: 'private_key_jwt',
      refreshTokens: false,
    },
    vault: { secretFields: KEY_JWT_SECRET_FIELDS },
    queues: { produces: ['refunds', 'refund-events'], consumes: ['refunds'] },
    database: { schema: 'refunds', tables: { 'refunds.requests': ['SELECT', 'INSERT', 'UPDATE'] } },
    http: {
      port: 3102,
      routes: [
        { method: 'POST', path: '/refunds', scope: 'refunds:create', callers: ['support-console'] },
        {
          method: 'GET',
          path: '/refunds/:id',
          scope: 'refunds:read',
          callers: ['support-console'],
        },
      ],
      callers: ['edge'],
    },
  },
  'reporting-service': {
    name: 'reporting-service',
    purpose: 'reconciles payment and refund events against the provider and serves reports',
    oauth: {
      scopes: ['transactions:read'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      refreshTokens: true,
    },
    vault: { secretFields: COMMON_SECRET_FIELDS },
    queues: { produces: [], consumes: ['payment-events', 'refund-events', 'provider-events'] },
    database: {
      schema: 'reporting',
      tables: {
        'reporting.payments': ['SELECT', 'INSERT', 'UPDATE'],
        'reporting.refunds': ['SELECT', 'INSERT', 'UPDATE'],
        'reporting.provider_events': ['SELECT', 'INSERT', 'UPDATE'],
        'reporting.provider_transactions': ['SELECT', 'INSERT', 'UPDATE'],
        'reporting.sync_state': ['SELECT', 'INSERT', 'UPDATE'],
        'reporting.totals': ['SELECT', 'INSERT', 'UPDATE'],
      },
    },
    http: {
      port: 3103,
      routes: [
        {
          method: 'GET',
          path: '/reports/summary',
          scope: 'reports:read',
          callers: ['finance-dashboard'],
        },
      ],
      callers: ['edge'],
    },
  },
  'webhook-service': {
    name: 'webhook-service',
    purpose: 'registers the webhook endpoint, verifies signed provider events and fans them out',
    oauth: {
      scopes: ['webhooks:manage'],
      tokenEndpointAuthMethod: 'client_secret_basic',
      refreshTokens: false,
    },
    vault: { secretFields: [...COMMON_SECRET_FIELDS, 'webhook_secret'] },
    queues: { produces: ['provider-events'], consumes: [] },
    database: { schema: 'webhooks', tables: { 'webhooks.events': ['SELECT', 'INSERT', 'UPDATE'] } },
    http: {
      port: 3104,
      routes: [
        {
          method: 'POST',
          path: '/webhooks/provider',
          signedBy: 'provider',
          scheme: 'standard-webhooks',
        },
      ],
      callers: ['provider'],
    },
  },
};

/** The PostgreSQL database holding every service's schema. */
export const DATABASE_NAME = 'lpi';
/** Vault's database secrets engine mount and its one connection (`database/config/<name>`). */
export const DATABASE_MOUNT = 'database';
export const DATABASE_CONNECTION = 'lpi';

/** The NOLOGIN group role holding a service's grants: `lpi_payment_service`. */
export const databaseGroupRoleOf = (service: ServiceName): string =>
  `lpi_${service.replace(/-/g, '_')}`;
/** The Vault database role a service reads its credentials from: `database/creds/<service>`. */
export const databaseCredsPathOf = (service: ServiceName): string =>
  `${DATABASE_MOUNT}/creds/${service}`;
/** Which service owns a table (every table has exactly one). */
export const tableOwnerOf = (table: TableName): ServiceName =>
  SERVICE_NAMES.find((s) => table in grantOf(s).database.tables) as ServiceName;

/** KV v2 mount every service secret lives under. */
export const KV_MOUNT = 'secret';

export const grantOf = (service: ServiceName): ServiceGrant => ACCESS_MATRIX[service];

export const allGrants = (): readonly ServiceGrant[] => SERVICE_NAMES.map(grantOf);

export function isServiceName(value: string): value is ServiceName {
  return (SERVICE_NAMES as readonly string[]).includes(value);
}

/** The logical secret path (`<mount>/<service>`), as `vault kv get` takes it. */
export const secretPathOf = (service: ServiceName): string => `${KV_MOUNT}/${service}`;
/** The API path a policy must name for KV v2 reads. */
export const secretDataPathOf = (service: ServiceName): string => `${KV_MOUNT}/data/${service}`;
export const secretMetadataPathOf = (service: ServiceName): string =>
  `${KV_MOUNT}/metadata/${service}`;

/** Queues a service touches at all (its Redis ACL key patterns). */
export function queuesOf(service: ServiceName): QueueName[] {
  const { produces, consumes } = grantOf(service).queues;
  return [...new Set([...produces, ...consumes])].sort();
}

export const producersOf = (queue: QueueName): ServiceName[] =>
  SERVICE_NAMES.filter((s) => grantOf(s).queues.produces.includes(queue));

export const consumersOf = (queue: QueueName): ServiceName[] =>
  SERVICE_NAMES.filter((s) => grantOf(s).queues.consumes.includes(queue));

export const hasScope = (service: ServiceName, scope: ProviderScope): boolean =>
  grantOf(service).oauth.scopes.includes(scope);

/**
 * The name BullMQ knows a queue by: the queue's name as a Redis Cluster hash tag, so that
 * every key of the queue (`<prefix>:{<name>}:...`) hashes to one slot, as BullMQ's Lua
 * scripts need on a cluster, while different queues spread over the masters (ADR 0028).
 * The same layout serves a single Redis.
 */
export const bullQueueName = (queue: QueueName): string => `{${queue}}`;

/** One key of a queue (`bull:{payments}:wait`); BullMQ's default `bull` prefix. */
export const queueKey = (queue: QueueName, suffix: string, prefix = 'bull'): string =>
  `${prefix}:${bullQueueName(queue)}:${suffix}`;

/** Redis key pattern of one queue: `{` and `}` are literal in a Redis glob. */
export const queueKeyPattern = (queue: QueueName, prefix = 'bull'): string =>
  queueKey(queue, '*', prefix);

export const isCallerRoute = (route: RouteGrant): route is CallerRoute => 'scope' in route;
export const isSignedRoute = (route: RouteGrant): route is SignedRoute => 'signedBy' in route;
export const isPublicRoute = (route: RouteGrant): route is PublicRoute => 'public' in route;

export function isCallerName(value: string): value is CallerName {
  return (CALLER_NAMES as readonly string[]).includes(value);
}

/** `METHOD /path`, the form routes are named in logs, errors and the drill. */
export const routeKey = (route: { method: string; path: string }): string =>
  `${route.method} ${route.path}`;

/** Every route a service serves: its own grants, then the public health routes. */
export const routesOf = (service: ServiceName): readonly RouteGrant[] => [
  ...grantOf(service).http.routes,
  ...PUBLIC_ROUTES,
];

/** The routes a caller token can reach on a service (the drill's and the guard's table). */
export const callerRoutesOf = (service: ServiceName): CallerRoute[] =>
  grantOf(service).http.routes.filter(isCallerRoute);

/** Who may call one route of a service (empty for signed, public or unknown routes). */
export function callersOf(
  service: ServiceName,
  route: { method: string; path: string },
): readonly CallerName[] {
  const found = callerRoutesOf(service).find((r) => routeKey(r) === routeKey(route));
  return found?.callers ?? [];
}

/** The services a caller may mint tokens for (one Vault identity role each). */
export const servicesCalledBy = (caller: CallerName): ServiceName[] =>
  SERVICE_NAMES.filter((s) => callerRoutesOf(s).some((r) => r.callers.includes(caller)));

/** The scopes a caller's token for a service carries: exactly its granted routes' scopes. */
export function callerScopesFor(caller: CallerName, service: ServiceName): RouteScope[] {
  const scopes = callerRoutesOf(service)
    .filter((r) => r.callers.includes(caller))
    .map((r) => r.scope);
  return [...new Set(scopes)].sort();
}

/** Every (caller, service) pair the matrix grants: one Vault identity role each. */
export const callerGrants = (): { caller: CallerName; service: ServiceName }[] =>
  CALLER_NAMES.flatMap((caller) =>
    servicesCalledBy(caller).map((service) => ({ caller, service })),
  );

/**
 * The Vault identity-token role a caller mints its tokens for a service with
 * (`identity/oidc/token/<role>`); the role's `client_id`, and so the token's `aud`, is the
 * service name.
 */
export const identityRoleName = (caller: CallerName, service: ServiceName): string =>
  `${caller}-to-${service}`;

/** The named Vault identity key that signs every caller token (used by no other role). */
export const CALLER_TOKEN_KEY = 'lpi-callers';
