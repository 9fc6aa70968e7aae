import type { ServiceModule } from '@ptce/platform';
import {
  loadStageRules,
  MemoryReadModels,
  PROJECTOR_LEASE_MS,
  projectorLockKey,
  RedisProjectorLock,
  RedisReadModels,
  readModelsPrefix,
  sharedPtceLedgers,
} from '@ptce/read-models';
import { type ProjectionsOptions, projectionsService, projectionsTag } from './app.ts';

export type { ProjectionsOptions } from './app.ts';

/** The projections (read) service as a host mounts it: alone (main.ts) or beside the write services. */
export const projectionsModule: ServiceModule<ProjectionsOptions> = {
  name: 'projections',
  tags: [projectionsTag],
  plugin: projectionsService,
  options: (host) => {
    const rules = loadStageRules(host.config.STAGE_RULES);
    const store = host.eventStore;
    const ledgers = sharedPtceLedgers(host);
    // With Redis the models are shared by every read process, one of which projects (the lock
    // decides which); without it, when asked for, each process keeps and projects its own.
    const prefix = readModelsPrefix(host.config.READ_MODELS_PREFIX, rules);
    const project = host.config.PROJECTOR === 'on' || (host.config.PROJECTOR === 'auto' && host.redis);
    const personalData = host.personalData;
    if (!project) return { store, rules, now: host.clock, ledgers, personalData };
    const models = host.redis ? new RedisReadModels(host.redis, prefix) : new MemoryReadModels();
    // The lock has a connection of its own: it WATCHes the lock key, which is per connection.
    const lock = host.redis
      ? new RedisProjectorLock(host.redis.duplicate(), projectorLockKey(prefix), PROJECTOR_LEASE_MS)
      : undefined;
    return { store, rules, now: host.clock, ledgers, personalData, models, lock };
  },
};
