import {
  SERVICE_NAMES,
  grantOf,
  secretDataPathOf,
  secretMetadataPathOf,
  type ServiceName,
} from './access-matrix';

/**
 * A service's Vault policy, derived from the access matrix: read its own KV v2 secret
 * (`data/`), read its own metadata (to notice a new version without reading the secret),
 * nothing else. Vault's `default` policy adds token self-management and capabilities-self.
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
  ].join('\n');
}

export const allVaultPolicies = (): Record<ServiceName, string> =>
  Object.fromEntries(SERVICE_NAMES.map((s) => [s, vaultPolicyFor(s)])) as Record<
    ServiceName,
    string
  >;
