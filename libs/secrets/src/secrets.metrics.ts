import { Gauge, type Registry } from 'prom-client';
import type { SecretsClient } from './secrets.client';

/** The Vault session's figures, read from the client when Prometheus scrapes. */
export function registerVaultSessionMetrics(registry: Registry, client: SecretsClient): void {
  new Gauge({
    name: 'lpi_vault_token_ttl_seconds',
    help: "seconds left on the service's Vault token (+Inf: no expiry)",
    registers: [registry],
    collect() {
      this.set(client.sessionFigures().tokenTtlSeconds);
    },
  });
  new Gauge({
    name: 'lpi_vault_secret_version',
    help: "KV v2 version of the service's secret in use",
    registers: [registry],
    collect() {
      this.set(client.sessionFigures().secretVersion);
    },
  });
}
