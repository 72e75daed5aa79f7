import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { ReportsModule } from './reports.module';

export const SERVICE = 'reporting-service';

@Module({
  // every root import of the service, here and only here
  imports: [
    IntegrationRuntimeModule.forService(SERVICE), // Vault session, provider client, queues
    ReportsModule,
  ],
})
export class AppModule {}
