export * from './decisions.ts';
export * from './membership.ts';
export * from './personal.ts';
export * from './registry.ts';
export * from './shared.ts';
export * from './working-groups.ts';
