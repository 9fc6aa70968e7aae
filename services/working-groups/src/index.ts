export { workingGroupsModule } from './module.ts';
