import 'reflect-metadata';
import { startIntegrationService } from '@lpi/integration-runtime';
import { runMain } from '@lpi/service-bootstrap';
import { RefundsModule } from './refunds.module';

runMain('refund-service', () => startIntegrationService('refund-service', () => RefundsModule));
