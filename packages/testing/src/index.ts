export * from './http.ts';
export * from './postgres.ts';
export * from './scenario.ts';
export * from './server.ts';
