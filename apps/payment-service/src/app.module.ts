import { Module } from '@nestjs/common';
import { IntegrationRuntimeModule } from '@lpi/integration-runtime';
import { PaymentsModule } from './payments.module';

export const SERVICE = 'payment-service';

@Module({
  imports: [IntegrationRuntimeModule.forService(SERVICE), PaymentsModule],
})
export class AppModule {}
