import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import {
  grantOf,
  secretDataPathOf,
  secretMetadataPathOf,
  type SecretField,
  type ServiceName,
} from '@lpi/access-matrix';
import { SecretsError } from './errors';
import { describeErrors, vaultCall, type VaultEndpoint } from './vault-http';

export type VaultIdentity =
  | { method: 'approle'; roleId: string; wrappedSecretId: string }
  | { method: 'kubernetes'; role: string; jwtFile: string; mount?: string }
  | { method: 'token'; token: string };

export interface SecretsClientOptions {
  vaultAddr: string;
  /** VAULT_CACERT contents: the only CA trusted for Vault's certificate (system roots otherwise). */
  vaultCaCert?: string;
  service: ServiceName;
  identity: VaultIdentity;
  /** How often to look for a new KV version (default 5 s). */
  pollIntervalMs?: number;
  logger?: Logger;
  /** Observes the token's lifecycle (metrics, tests); never receives the token itself. */
  onTokenEvent?: (event: TokenEvent) => void;
}

export interface TokenEvent {
  /** `renewed`: TTL extended; `relogin`: renewal stopped extending it, logged in again;
   *  `max-ttl-reached`: it cannot log in again (single-use AppRole secret-id); `renewal-failed`. */
  kind: 'renewed' | 'relogin' | 'max-ttl-reached' | 'renewal-failed';
  ttlSeconds: number;
}

/** A dynamic secret Vault leases (database credentials): the data and its lease. */
export interface LeasedSecret {
  leaseId: string;
  leaseDurationSeconds: number;
  renewable: boolean;
  data: Readonly<Record<string, string>>;
}

/** What `sys/leases/renew` granted: Vault caps it at the lease's max TTL and warns. */
export interface LeaseRenewal {
  leaseDurationSeconds: number;
  capped: boolean;
}

export interface ServiceSecret {
  version: number;
  data: Readonly<Record<SecretField, string>>;
}

/**
 * The service's only door to Vault: logs in with its own identity, keeps the token alive,
 * reads its own KV v2 secret and tells subscribers when a new version appears.
 */
export class SecretsClient {
  private token = '';
  private ttlSeconds = 0;
  /** When the current token stops working (0: no expiry, e.g. a root token). */
  private expiresAt = 0;
  private renewTimer?: NodeJS.Timeout;
  private pollTimer?: NodeJS.Timeout;
  private latest?: ServiceSecret;
  private closed = false;
  private readonly listeners = new Set<(secret: ServiceSecret) => void>();
  private readonly sessionListeners = new Set<() => void>();

  /** Vault's address and the CA its certificate must chain to (VAULT_CACERT). */
  private readonly vault: VaultEndpoint;

  private constructor(private readonly options: SecretsClientOptions) {
    this.vault = { addr: options.vaultAddr, ca: options.vaultCaCert };
  }

  /** Logs in and reads the secret once; start-up fails here with a clear, typed error. */
  static async connect(options: SecretsClientOptions): Promise<SecretsClient> {
    const client = new SecretsClient(options);
    await client.login();
    await client.readServiceSecret();
    return client;
  }

  current(): ServiceSecret {
    if (!this.latest) throw new SecretsError('SECRET_NOT_FOUND', 'no secret read yet');
    return this.latest;
  }

  async readServiceSecret(version?: number): Promise<ServiceSecret> {
    const { service } = this.options;
    const path = secretDataPathOf(service) + (version ? `?version=${version}` : '');
    const res = await vaultCall(this.vault, 'GET', path, { token: this.token });
    if (res.status === 404)
      throw new SecretsError(
        'SECRET_NOT_FOUND',
        `no secret at ${secretDataPathOf(service)}; run the bootstrap`,
      );
    if (res.status === 403)
      throw new SecretsError(
        'VAULT_FORBIDDEN',
        `${service}'s Vault token may not read ${secretDataPathOf(service)}: ${describeErrors(res)}`,
      );
    if (res.status !== 200)
      throw new SecretsError(
        'VAULT_ERROR',
        `reading ${secretDataPathOf(service)}: ${describeErrors(res)}`,
      );
    const payload = res.body.data as {
      data?: Record<string, unknown>;
      metadata?: { version?: number };
    };
    const data = payload?.data ?? {};
    const missing = grantOf(service).vault.secretFields.filter(
      (f) => typeof data[f] !== 'string' || !data[f],
    );
    if (missing.length) {
      throw new SecretsError(
        'SECRET_FIELD_MISSING',
        `${secretDataPathOf(service)} lacks ${missing.join(', ')}; run the bootstrap or add the field`,
      );
    }
    const secret: ServiceSecret = {
      version: Number(payload.metadata?.version ?? 0),
      data: data as Record<SecretField, string>,
    };
    const changed = this.latest && this.latest.version !== secret.version;
    this.latest = secret;
    if (changed) for (const l of this.listeners) l(secret);
    return secret;
  }

  /** Calls `onChange` with every new version (rotation) until the returned function is called. */
  watchServiceSecret(onChange: (secret: ServiceSecret) => void): () => void {
    this.listeners.add(onChange);
    if (!this.pollTimer) this.schedulePoll();
    return () => this.listeners.delete(onChange);
  }

  /**
   * Reads a leased secret (`database/creds/<role>`). The lease belongs to the current Vault
   * token: when the token goes (a new login revokes the old one), so does the lease, which is
   * why `watchSession` exists. Errors name the path and Vault's reason, never the data.
   */
  async readLease(path: string): Promise<LeasedSecret> {
    const res = await vaultCall(this.vault, 'GET', path, { token: this.token });
    if (res.status === 403)
      throw new SecretsError(
        'VAULT_FORBIDDEN',
        `${this.options.service}'s Vault token may not read ${path}: ${describeErrors(res)}`,
      );
    const data = res.body?.data as Record<string, unknown> | undefined;
    if (res.status !== 200 || !res.body.lease_id || !data)
      throw new SecretsError('VAULT_ERROR', `reading ${path}: ${describeErrors(res)}`);
    return {
      leaseId: String(res.body.lease_id),
      leaseDurationSeconds: Number(res.body.lease_duration ?? 0),
      renewable: res.body.renewable === true,
      data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, String(v)])),
    };
  }

  /** Extends a lease by `incrementSeconds` from now; Vault caps it at the lease's max TTL. */
  async renewLease(leaseId: string, incrementSeconds: number): Promise<LeaseRenewal> {
    const res = await vaultCall(this.vault, 'POST', 'sys/leases/renew', {
      token: this.token,
      body: { lease_id: leaseId, increment: incrementSeconds },
    });
    if (res.status !== 200)
      throw new SecretsError(
        res.status >= 400 && res.status < 500 ? 'LEASE_GONE' : 'VAULT_ERROR',
        `renewing a lease: ${describeErrors(res)}`,
      );
    const granted = Number(res.body.lease_duration ?? 0);
    const warnings = (res.body.warnings as string[] | null) ?? [];
    return {
      leaseDurationSeconds: granted,
      capped:
        granted < incrementSeconds || warnings.some((w) => /exceeded the effective max_ttl/.test(w)),
    };
  }

  /** Calls `onNewToken` after each new login: leases read with the old token are gone. */
  watchSession(onNewToken: () => void): () => void {
    this.sessionListeners.add(onNewToken);
    return () => this.sessionListeners.delete(onNewToken);
  }

  /** Vault's own view of what this identity may do on a path (`sys/capabilities-self`). */
  async capabilities(paths: string[]): Promise<Record<string, string[]>> {
    const res = await vaultCall(this.vault, 'POST', 'sys/capabilities-self', {
      token: this.token,
      body: { paths },
    });
    if (res.status !== 200)
      throw new SecretsError('VAULT_ERROR', `capabilities-self: ${describeErrors(res)}`);
    return Object.fromEntries(paths.map((p) => [p, (res.body.data?.[p] as string[]) ?? ['deny']]));
  }

  /**
   * Throws unless this process holds a live Vault session: logged in, not closed, and the
   * token not past the TTL Vault last granted. No Vault call: readiness probes it often,
   * and a Vault outage shorter than the token's life does not stop the routes.
   */
  assertSession(now = Date.now()): void {
    if (this.closed) throw new SecretsError('VAULT_ERROR', 'the Vault session is closed');
    if (!this.token) throw new SecretsError('VAULT_LOGIN_DENIED', 'not logged in to Vault');
    if (this.expiresAt && now >= this.expiresAt)
      throw new SecretsError(
        'VAULT_ERROR',
        'the Vault token has expired; restart with a fresh identity',
      );
  }

  /**
   * Seconds the Vault token has left (Infinity for a token that never expires, 0 once closed)
   * and the secret version in use; for metrics, no Vault call.
   */
  sessionFigures(now = Date.now()): { tokenTtlSeconds: number; secretVersion: number } {
    const tokenTtlSeconds = this.closed
      ? 0
      : this.expiresAt
        ? Math.max(0, (this.expiresAt - now) / 1000)
        : Infinity;
    return { tokenTtlSeconds, secretVersion: this.latest?.version ?? 0 };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.pollTimer);
    this.listeners.clear();
    this.sessionListeners.clear();
  }

  private schedulePoll(): void {
    if (this.closed) return;
    this.pollTimer = setTimeout(() => void this.poll(), this.options.pollIntervalMs ?? 5000);
    this.pollTimer.unref();
  }

  private async poll(): Promise<void> {
    try {
      const res = await vaultCall(this.vault, 'GET', secretMetadataPathOf(this.options.service), {
        token: this.token,
      });
      const current = Number(res.body.data?.current_version ?? 0);
      if (res.status === 200 && this.latest && current !== this.latest.version) {
        const secret = await this.readServiceSecret(current);
        this.options.logger?.info(
          { service: this.options.service, version: secret.version },
          'new secret version picked up',
        );
      }
    } catch (err) {
      // keep the last good secret; the next poll tries again
      this.options.logger?.warn(
        { service: this.options.service, code: (err as SecretsError).code },
        'secret poll failed',
      );
    } finally {
      if (this.listeners.size) this.schedulePoll();
      else this.pollTimer = undefined;
    }
  }

  private async login(): Promise<void> {
    const { identity } = this.options;
    if (identity.method === 'token') {
      this.token = identity.token;
      const self = await vaultCall(this.vault, 'GET', 'auth/token/lookup-self', {
        token: this.token,
      });
      if (self.status !== 200)
        throw new SecretsError(
          'VAULT_LOGIN_DENIED',
          `the Vault token was refused: ${describeErrors(self)}`,
        );
      this.setTtl(Number(self.body.data?.ttl ?? 0));
      this.scheduleRenew();
      return;
    }
    let res;
    if (identity.method === 'approle') {
      const secretId = await this.unwrapSecretId(identity.wrappedSecretId);
      res = await vaultCall(this.vault, 'POST', 'auth/approle/login', {
        body: { role_id: identity.roleId, secret_id: secretId },
      });
    } else {
      const jwt = readFileSync(identity.jwtFile, 'utf8').trim();
      res = await vaultCall(this.vault, 'POST', `auth/${identity.mount ?? 'kubernetes'}/login`, {
        body: { role: identity.role, jwt },
      });
    }
    if (res.status !== 200 || !res.body.auth) {
      throw new SecretsError(
        'VAULT_LOGIN_DENIED',
        `Vault refused ${this.options.service}'s ${identity.method} login: ${describeErrors(res)}`,
      );
    }
    this.token = res.body.auth.client_token;
    this.setTtl(res.body.auth.lease_duration);
    this.scheduleRenew();
  }

  /**
   * A wrapped secret-id is unwrapped once, and only after checking that the wrapping token
   * was created by `auth/approle/role/<service>/secret-id`: a token wrapping anything else
   * (or already unwrapped by someone else) means the delivery was tampered with.
   */
  private async unwrapSecretId(wrappingToken: string): Promise<string> {
    const { service } = this.options;
    const lookup = await vaultCall(this.vault, 'POST', 'sys/wrapping/lookup', {
      body: { token: wrappingToken },
    });
    const expected = `auth/approle/role/${service}/secret-id`;
    if (lookup.status !== 200) {
      throw new SecretsError(
        'WRAPPING_TOKEN_INVALID',
        `the wrapped secret-id is not valid (already unwrapped or expired): ${describeErrors(lookup)}; ask for a new one and investigate who used it`,
      );
    }
    if (lookup.body.data?.creation_path !== expected) {
      throw new SecretsError(
        'WRAPPING_TOKEN_INVALID',
        `the wrapped secret-id was created at ${String(lookup.body.data?.creation_path)}, not ${expected}`,
      );
    }
    const unwrapped = await vaultCall(this.vault, 'POST', 'sys/wrapping/unwrap', {
      token: wrappingToken,
    });
    const secretId = unwrapped.body.data?.secret_id;
    if (unwrapped.status !== 200 || typeof secretId !== 'string') {
      throw new SecretsError(
        'WRAPPING_TOKEN_INVALID',
        `unwrapping failed: ${describeErrors(unwrapped)}`,
      );
    }
    return secretId;
  }

  /** Renew at two thirds of the TTL; when renewal stops extending it, log in again if we can. */
  private scheduleRenew(): void {
    clearTimeout(this.renewTimer);
    if (!this.ttlSeconds || this.closed) return;
    this.renewTimer = setTimeout(() => void this.renew(), (this.ttlSeconds * 1000 * 2) / 3);
    this.renewTimer.unref();
  }

  private setTtl(seconds: number): void {
    this.ttlSeconds = seconds;
    this.expiresAt = seconds > 0 ? Date.now() + seconds * 1000 : 0;
  }

  private emit(kind: TokenEvent['kind']): void {
    this.options.onTokenEvent?.({ kind, ttlSeconds: this.ttlSeconds });
  }

  private async renew(): Promise<void> {
    const before = this.ttlSeconds;
    try {
      const res = await vaultCall(this.vault, 'POST', 'auth/token/renew-self', {
        token: this.token,
        body: {},
      });
      const granted = res.body.auth?.lease_duration ?? 0;
      if (res.status === 200 && granted >= before * 0.9) {
        this.setTtl(granted);
        this.scheduleRenew();
        this.emit('renewed');
        return;
      }
      // capped by the max TTL: get a new token while the old one still works
      if (this.options.identity.method === 'kubernetes') {
        const previous = this.token;
        await this.login();
        await vaultCall(this.vault, 'POST', 'auth/token/revoke-self', {
          token: previous,
        }).catch(() => undefined); // it expires on its own anyway
        this.emit('relogin');
        for (const l of this.sessionListeners) l();
        return;
      }
      if (res.status === 200) this.setTtl(granted);
      else this.ttlSeconds = granted;
      this.options.logger?.error(
        { service: this.options.service },
        'Vault token reaches its max TTL and this identity cannot log in again on its own; restart the service with a fresh wrapped secret-id (or token)',
      );
      this.emit('max-ttl-reached');
      if (granted > 0) this.scheduleRenew();
    } catch (err) {
      this.options.logger?.warn(
        { service: this.options.service, code: (err as SecretsError).code },
        'Vault token renewal failed; retrying',
      );
      this.ttlSeconds = Math.max(1, Math.min(10, before / 2));
      this.scheduleRenew();
      this.emit('renewal-failed');
    }
  }
}
