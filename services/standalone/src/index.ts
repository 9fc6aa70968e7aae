export { buildStandalone, type StandaloneOptions } from './server.ts';
