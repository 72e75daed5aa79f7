import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allVaultPolicies } from '@lpi/access-matrix';

const dir = join(__dirname, '..', '..', 'deploy', 'vault', 'policies');

it('committed Vault policies match what the access matrix generates (run `npm run policies:generate`)', () => {
  for (const [service, hcl] of Object.entries(allVaultPolicies())) {
    expect({ service, hcl: readFileSync(join(dir, `${service}.hcl`), 'utf8') }).toEqual({
      service,
      hcl,
    });
  }
});
