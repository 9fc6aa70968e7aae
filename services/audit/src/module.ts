import type { ServiceModule } from '@ptce/platform';
import { loadStageRules, sharedChainCheckpoints, sharedPtceLedgers } from '@ptce/read-models';
import { type AuditOptions, auditService, auditTag } from './app.ts';

const HOUR_MS = 3_600_000;

/** The audit service as a host mounts it: alone (main.ts) or beside the others (standalone). */
export const auditModule: ServiceModule<AuditOptions> = {
  name: 'audit',
  tags: [auditTag],
  plugin: auditService,
  options: (host) => ({
    store: host.eventStore,
    rules: loadStageRules(host.config.STAGE_RULES),
    now: host.clock,
    ledgers: sharedPtceLedgers(host),
    personalData: host.personalData,
    checkpoints: sharedChainCheckpoints(host),
    checkpointEveryMs: host.config.CHECKPOINT_EVERY_HOURS * HOUR_MS,
  }),
};
