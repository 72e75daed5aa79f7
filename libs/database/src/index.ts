export * from './credential-lease';
export * from './database';
export * from './database.config';
export * from './database.module';
export * from './migrations';
export * from './grants';
export * from './prepare';
