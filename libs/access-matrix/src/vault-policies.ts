import {
  CALLER_NAMES,
  SERVICE_NAMES,
  callerScopesFor,
  grantOf,
  identityRoleName,
  servicesCalledBy,
  type CallerName,
  databaseCredsPathOf,
  secretDataPathOf,
  secretMetadataPathOf,
  type ServiceName,
} from './access-matrix';

/**
 * A service's Vault policy, derived from the access matrix: read its own KV v2 secret
 * (`data/`), read its own metadata (to notice a new version without reading the secret),
 * read its own database credentials, nothing else. Vault's `default` policy adds token self-management and capabilities-self.
 */
export function vaultPolicyFor(service: ServiceName): string {
  const fields = grantOf(service).vault.secretFields.join(', ');
  return [
    `# ${service}: generated from @lpi/access-matrix by \`npm run policies:generate\`; do not edit.`,
    `# Fields: ${fields}`,
    `path "${secretDataPathOf(service)}" {`,
    `  capabilities = ["read"]`,
    `}`,
    ``,
    `# version polling for rotation (metadata only, no secret values)`,
    `path "${secretMetadataPathOf(service)}" {`,
    `  capabilities = ["read"]`,
    `}`,
    ``,
    `# short-lived PostgreSQL users holding this service's table grants only`,
    `# (renewing and looking up their leases is in Vault's default policy)`,
    `path "${databaseCredsPathOf(service)}" {`,
    `  capabilities = ["read"]`,
    `}`,
    ``,
  ].join('\n');
}

export const allVaultPolicies = (): Record<ServiceName, string> =>
  Object.fromEntries(SERVICE_NAMES.map((s) => [s, vaultPolicyFor(s)])) as Record<
    ServiceName,
    string
  >;

/**
 * A caller's Vault policy, derived from the access matrix: `read` on exactly the identity
 * token roles of the services it may call (`identity/oidc/token/<caller>-to-<service>`), so
 * Vault mints it tokens for those audiences only. Nothing else: no secret, no other role.
 */
export function callerVaultPolicyFor(caller: CallerName): string {
  const lines = [
    `# ${caller} (caller): generated from @lpi/access-matrix by \`npm run policies:generate\`; do not edit.`,
  ];
  for (const service of servicesCalledBy(caller)) {
    lines.push(
      `# tokens for ${service}, scopes: ${callerScopesFor(caller, service).join(' ')}`,
      `path "identity/oidc/token/${identityRoleName(caller, service)}" {`,
      `  capabilities = ["read"]`,
      `}`,
      ``,
    );
  }
  return lines.join('\n');
}

export const allCallerVaultPolicies = (): Record<CallerName, string> =>
  Object.fromEntries(CALLER_NAMES.map((c) => [c, callerVaultPolicyFor(c)])) as Record<
    CallerName,
    string
  >;

/** Every generated policy by name (services and callers): `deploy/vault/policies/<name>.hcl`. */
export const allGeneratedPolicies = (): Record<string, string> => ({
  ...allVaultPolicies(),
  ...allCallerVaultPolicies(),
});
