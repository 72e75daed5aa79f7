export type TokenEndpointAuthMethod =
  'client_secret_basic' | 'client_secret_post' | 'tls_client_auth' | 'private_key_jwt';

/** One set of client credentials as Vault holds them. */
export interface ClientCredential {
  clientId: string;
  clientSecret?: string;
  /** private_key_jwt: the P-256 private key (PKCS#8 PEM) that signs client assertions. */
  assertionKey?: string;
  /** PEM client certificate and key for mTLS (and tls_client_auth). */
  cert?: string;
  key?: string;
  /** A label for logs and metrics, e.g. the KV version. Never a secret. */
  version?: string;
}

/**
 * The credentials a client may use, in order: current first, then the next one during a
 * rotation. Swapped at run time (a new Vault version) without a restart.
 */
export class CredentialSet {
  private list: ClientCredential[];
  private generation = 0;

  constructor(current: ClientCredential, next?: ClientCredential) {
    this.list = next ? [current, next] : [current];
  }

  update(current: ClientCredential, next?: ClientCredential): void {
    this.list = next ? [current, next] : [current];
    this.generation += 1;
  }

  /** Promote the next credential after the current one was refused. */
  promoteNext(): boolean {
    if (this.list.length < 2) return false;
    this.list = this.list.slice(1);
    this.generation += 1;
    return true;
  }

  all(): readonly ClientCredential[] {
    return this.list;
  }

  current(): ClientCredential {
    return this.list[0];
  }

  get version(): number {
    return this.generation;
  }
}
