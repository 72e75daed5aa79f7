import 'reflect-metadata';
import { startIntegrationService } from '@lpi/integration-runtime';
import { runMain } from '@lpi/service-bootstrap';
import { ReportsModule } from './reports.module';

runMain('reporting-service', () =>
  startIntegrationService('reporting-service', () => ReportsModule),
);
