export { type SnapshotsOptions, snapshotsModule } from './module.ts';
