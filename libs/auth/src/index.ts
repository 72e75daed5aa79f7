export * from './errors';
export * from './credentials';
export { assertionPublicJwk } from './client-assertion';
export * from './metrics';
export * from './token-manager';
export * from './provider.client';
export * from './auth.module';
