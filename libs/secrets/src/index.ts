export * from './errors';
export * from './secrets.client';
export * from './secrets.config';
export * from './secrets.module';
export { describeErrors, vaultCall, type VaultEndpoint, type VaultResponse } from './vault-http';
