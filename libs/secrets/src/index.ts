export * from './errors';
export * from './secrets.client';
export * from './secrets.config';
export * from './secrets.module';
