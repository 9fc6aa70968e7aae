import fs from 'node:fs';
import { ConfigError } from '@ptce/platform';
import { DEFAULT_STAGE_RULES, rulesVersion, type StageRules, stageRules } from '@ptce/projections';
import { z } from 'zod';

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

/**
 * Where a deployment's models live in Redis: under its prefix (READ_MODELS_PREFIX) and the version
 * of its stage rules, so that two deployments, or one before and after a change of thresholds,
 * never read each other's answers.
 */
export const readModelsPrefix = (prefix: string, rules: StageRules): string =>
  `${prefix}${rulesVersion(rules)}:`;

export const projectorLockKey = (prefix: string): string => `${prefix}projector`;

/** How long a projector's lock outlives its last renewal: a standby takes over this long after the active one dies. */
export const PROJECTOR_LEASE_MS = 10_000;
