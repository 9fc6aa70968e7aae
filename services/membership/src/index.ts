export * from './app.ts';
export * from './module.ts';
