export * from './ports';
export * from './redis-server';
export * from './dev-pki';
export * from './ts-process';
export * from './https-client';
export * from './sandbox';
export * from './vault-dev';
export * from './token-review';
