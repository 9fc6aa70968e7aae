import type { ServiceModule } from '@ptce/platform';
import { loadStageRules, PtceLedgers, sharedChainCheckpoints } from '@ptce/read-models';
import { type SnapshotsOptions, snapshotsService, snapshotsTag } from './app.ts';

export type { SnapshotsOptions } from './app.ts';

/** The signed snapshots funders pull, as a host mounts them: alone (main.ts) or beside the other services. */
export const snapshotsModule: ServiceModule<SnapshotsOptions> = {
  name: 'snapshots',
  tags: [snapshotsTag],
  plugin: snapshotsService,
  options: (host) => {
    const checkpoints = sharedChainCheckpoints(host);
    return {
      store: host.eventStore,
      rules: loadStageRules(host.config.STAGE_RULES),
      now: host.clock,
      ledgers: new PtceLedgers(host.eventStore, { maxEvents: host.config.READ_CACHE_EVENTS }),
      keys: checkpoints.keys,
      checkpoints,
    };
  },
};
