// `npm run policies:generate`: writes deploy/vault/policies/<service|caller>.hcl from the access matrix.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { allGeneratedPolicies } from '@lpi/access-matrix';

export const POLICY_DIR = join(__dirname, '..', '..', 'deploy', 'vault', 'policies');

if (require.main === module) {
  mkdirSync(POLICY_DIR, { recursive: true });
  for (const [service, hcl] of Object.entries(allGeneratedPolicies())) {
    writeFileSync(join(POLICY_DIR, `${service}.hcl`), hcl);
    console.log(`wrote deploy/vault/policies/${service}.hcl`);
  }
}
