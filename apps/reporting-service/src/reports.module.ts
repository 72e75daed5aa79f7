import { Controller, Get, Inject, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { ProviderClient } from '@lpi/auth';
import { Database } from '@lpi/database';
import { Consumers } from '@lpi/integration-runtime';
import { ReportLedger } from './report-ledger';
import { ReportsService } from './reports.service';

@Injectable()
class ReportsConsumers implements OnModuleInit {
  constructor(
    @Inject(ReportsService) private readonly reports: ReportsService,
    @Inject(Consumers) private readonly consumers: Consumers,
  ) {}

  onModuleInit(): void {
    this.consumers.register('payment-events', (e) => this.reports.onPaymentEvent(e));
    this.consumers.register('refund-events', (e) => this.reports.onRefundEvent(e));
    this.consumers.register('provider-events', (e) => this.reports.onProviderEvent(e));
  }
}

@Controller('reports')
class ReportsController {
  constructor(@Inject(ReportsService) private readonly reports: ReportsService) {}

  @Get('summary')
  summary() {
    return this.reports.summary();
  }
}

@Module({
  controllers: [ReportsController],
  providers: [
    {
      provide: ReportsService,
      inject: [ProviderClient, Database],
      useFactory: (provider: ProviderClient, db: Database) =>
        new ReportsService(provider, new ReportLedger(db)),
    },
    ReportsConsumers,
  ],
})
export class ReportsModule {}
