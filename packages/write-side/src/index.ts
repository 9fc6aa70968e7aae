export * from './execute.ts';
export * from './http.ts';
export * from './ids.ts';
export * from './ledger-repository.ts';
export * from './ptce.ts';
export * from './server.ts';
export * from './write-route.ts';
