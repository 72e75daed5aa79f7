import 'reflect-metadata';
import { startIntegrationService } from '@lpi/integration-runtime';
import { runMain } from '@lpi/service-bootstrap';
import { WebhooksModule } from './webhooks.module';

runMain('webhook-service', () => startIntegrationService('webhook-service', () => WebhooksModule));
