import { Controller, Get, Inject } from '@nestjs/common';
import type { ServiceName } from '@lpi/access-matrix';
import { openApiDocument, type JsonObject } from './openapi';
import { SERVICE_NAME } from './runtime.tokens';

/** `GET /openapi.json`: the document `npm run api:generate` writes to docs/api/, built once. */
@Controller()
export class OpenApiController {
  private readonly document: JsonObject;

  constructor(@Inject(SERVICE_NAME) service: ServiceName) {
    this.document = openApiDocument(service);
  }

  @Get('openapi.json')
  describe(): JsonObject {
    return this.document;
  }
}
