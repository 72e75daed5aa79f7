import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allGeneratedPolicies } from '@lpi/access-matrix';

const dir = join(__dirname, '..', '..', 'deploy', 'vault', 'policies');

it('committed Vault policies match what the access matrix generates (run `npm run policies:generate`)', () => {
  for (const [service, hcl] of Object.entries(allGeneratedPolicies())) {
    expect({ service, hcl: readFileSync(join(dir, `${service}.hcl`), 'utf8') }).toEqual({
      service,
      hcl,
    });
  }
});
