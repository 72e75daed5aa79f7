import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { RefundsModule } from './refunds.module';

export const SERVICE = 'refund-service';

@Module({
  imports: [IntegrationRuntimeModule.forService(SERVICE), RefundsModule],
})
export class AppModule {}
