import { type ServiceModule, SnapshotKeys } from '@ptce/platform';
import { loadStageRules, PtceLedgers } from '@ptce/read-models';
import { type SnapshotsOptions, snapshotsService } from './app.ts';

export type { SnapshotsOptions } from './app.ts';

/** The signed snapshots funders pull, as a host mounts them: alone (main.ts) or beside the other services. */
export const snapshotsModule: ServiceModule<SnapshotsOptions> = {
  name: 'snapshots',
  plugin: snapshotsService,
  options: (host) => {
    const keys = new SnapshotKeys(host.config.DATA_DIR);
    // Made here, at start-up, so the first funder's request does not race another process for it.
    keys.ensure();
    return {
      store: host.eventStore,
      rules: loadStageRules(host.config.STAGE_RULES),
      now: host.clock,
      ledgers: new PtceLedgers(host.eventStore, { maxEvents: host.config.READ_CACHE_EVENTS }),
      keys,
    };
  },
};
