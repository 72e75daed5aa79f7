import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { PaymentsModule } from './payments.module';

export const SERVICE = 'payment-service';

@Module({
  // every root import of the service, here and only here
  imports: [
    IntegrationRuntimeModule.forService(SERVICE), // Vault session, provider client, queues
    PaymentsModule,
  ],
})
export class AppModule {}
