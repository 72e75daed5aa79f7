import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { ReportsModule } from './reports.module';

export const SERVICE = 'reporting-service';

@Module({
  imports: [IntegrationRuntimeModule.forService(SERVICE), ReportsModule],
})
export class AppModule {}
