import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { WebhooksModule } from './webhooks.module';

export const SERVICE = 'webhook-service';

@Module({
  // every root import of the service, here and only here
  imports: [
    IntegrationRuntimeModule.forService(SERVICE), // Vault session, provider client, queues
    WebhooksModule,
  ],
})
export class AppModule {}
