import 'reflect-metadata';
import { startIntegrationService } from '@lpi/integration-runtime';
import { runMain } from '@lpi/service-bootstrap';
import { PaymentsModule } from './payments.module';

runMain('payment-service', () => startIntegrationService('payment-service', () => PaymentsModule));
