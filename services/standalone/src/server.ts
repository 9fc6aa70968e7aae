import { auditModule } from '@ptce/audit';
import { decisionsModule } from '@ptce/decisions';
import { membershipModule } from '@ptce/membership';
import { type App, buildHost, type Config, type HostOptions, type ServiceModule } from '@ptce/platform';
import { projectionsModule } from '@ptce/projections-service';
import { snapshotsModule } from '@ptce/snapshots';
import { workingGroupsModule } from '@ptce/working-groups';

/**
 * The services mounted in the one-process server. Each is the same module a split deployment
 * runs alone behind the gateway, so the URLs are identical in both.
 */
export const serviceModules: readonly ServiceModule[] = [
  membershipModule,
  workingGroupsModule,
  decisionsModule,
  // The read side, after the write services it reads: it only reads the event store they write.
  projectionsModule,
  auditModule,
  // Signed snapshots for funders: the read side's answers, computed the same way and signed.
  snapshotsModule,
];

export type StandaloneOptions = Omit<HostOptions, 'services'>;

/** Every service in one process on the configured event store (the embedded SQLite file by default). */
export function buildStandalone(config: Config, options: StandaloneOptions = {}): Promise<App> {
  return buildHost(config, { title: 'PTCE Ledger', ...options, services: serviceModules });
}
