export * from './contracts';
export * from './errors';
export * from './redis-acl';
export * from './messaging';
export * from './lua-scripts';
