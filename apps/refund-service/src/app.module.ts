import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { RefundsModule } from './refunds.module';

export const SERVICE = 'refund-service';

@Module({
  // every root import of the service, here and only here
  imports: [
    IntegrationRuntimeModule.forService(SERVICE), // Vault session, provider client, queues
    RefundsModule,
  ],
})
export class AppModule {}
