// `npm run api:generate`: writes docs/api/<service>.openapi.json from the services' zod
// contracts and the access matrix (ADR 0024); a spec fails when the committed files drift.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_NAMES, type ServiceName } from '@lpi/access-matrix';
import { openApiDocument } from '@lpi/integration-runtime';

export const API_DOC_DIR = join(__dirname, '..', '..', 'docs', 'api');

export const apiDocFile = (service: ServiceName): string =>
  join(API_DOC_DIR, `${service}.openapi.json`);

/** The file's text: the document as the service serves it, two-space JSON. */
export const apiDocText = (service: ServiceName): string =>
  `${JSON.stringify(openApiDocument(service), null, 2)}\n`;

if (require.main === module) {
  mkdirSync(API_DOC_DIR, { recursive: true });
  for (const service of SERVICE_NAMES) {
    writeFileSync(apiDocFile(service), apiDocText(service));
    console.log(`wrote docs/api/${service}.openapi.json`);
  }
}
