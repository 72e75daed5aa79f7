export * from './runtime.config';
export * from './runtime';
export * from './provider-outcome';
export * from './job-helpers';
