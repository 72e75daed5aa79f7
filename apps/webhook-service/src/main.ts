import 'reflect-metadata';
import { startIntegrationService } from '@lpi/integration-runtime';
import { runMain } from '@lpi/service-bootstrap';
import { AppModule, SERVICE } from './app.module';

runMain(SERVICE, () => startIntegrationService(SERVICE, AppModule));
