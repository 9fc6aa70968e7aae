export { buildStandalone, type StandaloneOptions, serviceModules } from './server.ts';
