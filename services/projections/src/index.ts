export { loadStageRules } from '@ptce/read-models';
export { type ProjectionsOptions, projectionsModule } from './module.ts';
