export * from './config';
export * from './redaction';
export * from './issued-secrets';
export * from './logger';
export * from './errors';
export * from './health';
export * from './service-bootstrap.module';
export * from './bootstrap';
