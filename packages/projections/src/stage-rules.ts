import { createHash } from 'node:crypto';
import { canonicalJson } from '@ptce/events';
import { z } from 'zod';

/**
 * The thresholds that place a PTCE in its creation stages. They are a deployment's choice, so
 * every answer names the rules it was computed under (see `rulesVersion`): a funder comparing two
 * answers must be able to tell whether they were judged by the same yardstick.
 */
export const stageRulesSchema = z
  .object({
    /** Partners besides the pilot needed to leave the individual impulse. */
    minPartners: z.number().int().min(1),
    /** Share of active members that must sit in a steering space for a collective group. */
    collectiveShare: z.number().min(0).max(1),
    /** Share of active members that must be associates of the shared entity for an effective PTCE. */
    minAssociateShare: z.number().min(0).max(1),
    /** Months without a new member after which an individual impulse is reported stalled. */
    stalledAfterMonths: z.number().int().min(1),
  })
  .strict();

export type StageRules = z.infer<typeof stageRulesSchema>;

export const DEFAULT_STAGE_RULES: StageRules = Object.freeze({
  minPartners: 2,
  collectiveShare: 0.9,
  minAssociateShare: 0.5,
  stalledAfterMonths: 12,
});

/** The version of the stage rules themselves: bumped when what a stage means changes, not its thresholds. */
export const STAGE_RULES_BASE_VERSION = 'stage-rules/v1';

/** Thresholds given in part (the rest are the defaults), validated: out-of-range values throw a ZodError. */
export function stageRules(overrides: Partial<StageRules> = {}): StageRules {
  return Object.freeze(stageRulesSchema.parse({ ...DEFAULT_STAGE_RULES, ...overrides }));
}

const thresholdsOf = (rules: StageRules): StageRules => ({
  minPartners: rules.minPartners,
  collectiveShare: rules.collectiveShare,
  minAssociateShare: rules.minAssociateShare,
  stalledAfterMonths: rules.stalledAfterMonths,
});

/** Hex digits of the thresholds' digest kept in a version: 48 bits, enough never to collide by chance between deployments. */
const DIGEST_LENGTH = 12;

/**
 * `stage-rules/v1` under the default thresholds; otherwise the base version suffixed with a short
 * digest of the thresholds' canonical JSON, so that two deployments with different thresholds
 * never publish answers under the same version, and two with the same thresholds always do
 * (canonical JSON does not depend on key order or number spelling).
 */
export function rulesVersion(rules: StageRules): string {
  const thresholds = thresholdsOf(stageRulesSchema.parse(rules));
  const isDefault = canonicalJson(thresholds) === canonicalJson(thresholdsOf(DEFAULT_STAGE_RULES));
  if (isDefault) return STAGE_RULES_BASE_VERSION;
  const digest = createHash('sha256').update(canonicalJson(thresholds), 'utf8').digest('hex');
  return `${STAGE_RULES_BASE_VERSION}+${digest.slice(0, DIGEST_LENGTH)}`;
}
