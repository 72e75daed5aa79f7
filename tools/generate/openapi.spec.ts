import { readFileSync } from 'node:fs';
import { SERVICE_NAMES } from '@lpi/access-matrix';
import { apiDocFile, apiDocText } from './openapi';

it('committed API descriptions match what the contracts and the matrix generate (run `npm run api:generate`)', () => {
  for (const service of SERVICE_NAMES) {
    // compared as data, so reformatting the file is not drift; a changed contract is
    const committed: unknown = JSON.parse(readFileSync(apiDocFile(service), 'utf8'));
    expect({ service, document: committed }).toEqual({
      service,
      document: JSON.parse(apiDocText(service)),
    });
  }
});
