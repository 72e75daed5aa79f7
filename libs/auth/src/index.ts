export * from './errors';
export * from './credentials';
export { assertionPublicJwk } from './client-assertion';
export * from './metrics';
export * from './token-manager';
export { TokenCache, type RefreshSchedule } from './token-cache';
export * from './provider.client';
export * from './auth.module';
export * from './caller-auth.config';
export * from './caller-token.verifier';
export * from './caller-token.source';
export {
  CallerAuthGuard,
  routeKeysOf,
  CALLER_AUTH_SERVICE,
  type CallerRequest,
} from './caller-auth.guard';
export * from './caller-auth.module';
