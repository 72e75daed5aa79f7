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

/** Every BullMQ queue. A queue's keys live under `bull:<name>:*` in Redis. */
export const QUEUE_NAMES = [
  'payments',
  'payment-events',
  'refunds',
  'refund-events',
  'provider-events',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

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
  /** Inbound HTTP: who may call this service (NetworkPolicy in Kubernetes). */
  readonly http: {
    readonly port: number;
    readonly routes: readonly string[];
    readonly callers: readonly ('edge' | 'provider' | ServiceName)[];
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
    http: { port: 3101, routes: ['POST /payments', 'GET /payments/:id'], callers: ['edge'] },
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
    http: { port: 3102, routes: ['POST /refunds', 'GET /refunds/:id'], callers: ['edge'] },
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
    http: { port: 3103, routes: ['GET /reports/summary'], callers: ['edge'] },
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
    http: { port: 3104, routes: ['POST /webhooks/provider'], callers: ['provider'] },
  },
};

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

/** Redis key pattern of one queue (BullMQ's default `bull` prefix). */
export const queueKeyPattern = (queue: QueueName, prefix = 'bull'): string =>
  `${prefix}:${queue}:*`;
