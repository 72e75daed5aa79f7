// What the incident runbook acts on, as narrow interfaces: the CLI builds them from its
// configuration (incident.config.ts), the breach drill from the local stack it started.
import type { ServiceName } from '@lpi/access-matrix';

export interface VaultPort {
  addr: string;
  /** VAULT_CACERT's contents: the CA Vault's certificate must chain to. */
  ca?: string;
  /** An operator token (policy in docs/security.md); never the service's own. */
  token: string;
}

export interface ProviderAdminPort {
  /** `https://<provider>`; the admin API is under `/admin`. */
  baseUrl: string;
  token: string;
  caCert: string;
}

export interface RedisAdminPort {
  /** One admin command (`ACL SETUSER ...`, `CLIENT KILL ...`). */
  call(command: string, ...args: string[]): Promise<unknown>;
}

export interface IssuedCertificate {
  cert: string;
  key: string;
}

export interface IncidentPorts {
  vault: VaultPort;
  provider: ProviderAdminPort;
  redis: RedisAdminPort;
  /** A new client certificate and key for the service, from the CA the deployment trusts. */
  issueCertificate(service: ServiceName): Promise<IssuedCertificate>;
  /** How the service logs in to Vault: AppRole gets a new wrapped secret-id at the end. */
  identity: 'approle' | 'kubernetes';
  /**
   * Restarts the service on its new identity (AppRole: the wrapped secret-id, single use;
   * Kubernetes: the new pod's projected token). Answers what it did, for the log.
   */
  restart(service: ServiceName, identity: { wrappedSecretId?: string }): Promise<string>;
  log(line: string): void;
}

/** A typed failure with a stable code; the message never holds a secret. */
export class IncidentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'IncidentError';
  }
}
