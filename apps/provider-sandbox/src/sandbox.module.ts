import { type DynamicModule, Module } from '@nestjs/common';
import { ServiceBootstrapModule } from '@lpi/service-bootstrap';
import { AdminController } from './admin.controller';
import { LedgerMetrics } from './ledger.metrics';
import { PaymentsApiController } from './payments-api.controller';
import { SandboxState } from './state';
import { TokenGuard } from './token.guard';

@Module({})
export class SandboxModule {
  static create(state: SandboxState): DynamicModule {
    return {
      module: SandboxModule,
      imports: [
        ServiceBootstrapModule.forService({
          service: 'provider-sandbox',
          logLevel: state.config.LOG_LEVEL,
        }),
      ],
      controllers: [PaymentsApiController, AdminController],
      // ServiceBootstrapModule serves GET /metrics (no token, like /health); the ledger adds its gauges
      providers: [{ provide: SandboxState, useValue: state }, TokenGuard, LedgerMetrics],
    };
  }
}
