export { decisionsModule } from './module.ts';
