export * from './canonical-json.ts';
export * from './catalog/index.ts';
export * from './envelope.ts';
export * from './hash-chain.ts';
export * from './ids.ts';
export * from './text.ts';
export * from './valid-time.ts';
