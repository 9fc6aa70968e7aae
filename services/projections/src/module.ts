import fs from 'node:fs';
import { ConfigError, type ServiceModule } from '@ptce/platform';
import { DEFAULT_STAGE_RULES, rulesVersion, type StageRules, stageRules } from '@ptce/projections';
import { MemoryReadModels, PtceLedgers, RedisProjectorLock, RedisReadModels } from '@ptce/read-models';
import { z } from 'zod';
import { type ProjectionsOptions, projectionsService } from './app.ts';

export type { ProjectionsOptions } from './app.ts';

/**
 * The stage thresholds of the deployment: the defaults, or those of the JSON file STAGE_RULES
 * names (a partial object: the thresholds it leaves out keep their defaults). Read once, at
 * start-up: a bad file stops the server with a ConfigError naming the variable and the field,
 * rather than answering stages under thresholds nobody chose.
 */
export function loadStageRules(file: string | undefined): StageRules {
  if (file === undefined) return DEFAULT_STAGE_RULES;
  const bad = (message: string) =>
    new ConfigError([{ variable: 'STAGE_RULES', message: `${file}: ${message}` }]);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw bad(`cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  let overrides: unknown;
  try {
    overrides = JSON.parse(text);
  } catch {
    throw bad('is not valid JSON');
  }
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw bad('expected a JSON object of thresholds');
  }
  try {
    return stageRules(overrides as Partial<StageRules>);
  } catch (err) {
    if (!(err instanceof z.ZodError)) throw err;
    const fields = err.issues.map((issue) => {
      const field = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : issue.path.join('.');
      return `${field || '(file)'}: ${issue.message}`;
    });
    throw bad(fields.join('; '));
  }
}

/** How long a projector's lock outlives its last renewal: a standby takes over this long after the active one dies. */
const PROJECTOR_LEASE_MS = 10_000;

/** The projections (read) service as a host mounts it: alone (main.ts) or beside the write services. */
export const projectionsModule: ServiceModule<ProjectionsOptions> = {
  name: 'projections',
  plugin: projectionsService,
  options: (host) => {
    const rules = loadStageRules(host.config.STAGE_RULES);
    const store = host.eventStore;
    const ledgers = new PtceLedgers(store, { maxEvents: host.config.READ_CACHE_EVENTS });
    // With Redis the models are shared by every read process, one of which projects (the lock
    // decides which); without it each process keeps and projects its own.
    const prefix = `ptce:read:${rulesVersion(rules)}:`;
    if (host.config.PROJECTOR === 'off') return { store, rules, now: host.clock, ledgers };
    const models = host.redis ? new RedisReadModels(host.redis, prefix) : new MemoryReadModels();
    // The lock has a connection of its own: it WATCHes the lock key, which is per connection.
    const lock = host.redis
      ? new RedisProjectorLock(host.redis.duplicate(), `${prefix}projector`, PROJECTOR_LEASE_MS)
      : undefined;
    return { store, rules, now: host.clock, ledgers, models, lock };
  },
};
