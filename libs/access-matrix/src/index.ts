export * from './access-matrix';
export * from './vault-policies';
