export { loadStageRules, type ProjectionsOptions, projectionsModule } from './module.ts';
