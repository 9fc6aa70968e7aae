export * from './ledger.ts';
export * from './queries.ts';
export * from './state.ts';
