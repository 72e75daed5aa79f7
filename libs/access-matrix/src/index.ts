export * from './access-matrix';
