import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { WebhooksModule } from './webhooks.module';

export const SERVICE = 'webhook-service';

@Module({
  imports: [IntegrationRuntimeModule.forService(SERVICE), WebhooksModule],
})
export class AppModule {}
