import { z } from 'zod';
import { validTimeSchema } from '../valid-time.ts';
import {
  decisionKindSchema,
  decisionSubjectSchema,
  eventRefSchema,
  nameSchema,
  organisationListSchema,
  outcomeSchema,
  reasonSchema,
  catalogSlugSchema as slug,
  spaceRulesSchema,
  voteSchema,
} from './shared.ts';

const presentList = organisationListSchema.max(500);

/** The outcome, rules and enrolled count are derived by the server and stored so a replay never re-derives them. */
export const decisionRecordedSchema = z.strictObject({
  decisionId: slug,
  spaceId: slug,
  meetingId: slug.optional(),
  present: presentList,
  title: nameSchema,
  kind: decisionKindSchema,
  subject: decisionSubjectSchema.optional(),
  vote: voteSchema,
  rules: spaceRulesSchema,
  enrolledCount: z.number().int().min(0),
  outcome: outcomeSchema,
});

export const decisionCorrectedSchema = z.strictObject({
  correctsEventId: eventRefSchema,
  decisionId: slug,
  fields: z.strictObject({
    vote: voteSchema.optional(),
    present: presentList.optional(),
    decidedAt: validTimeSchema.optional(),
    title: nameSchema.optional(),
  }),
  reason: reasonSchema,
  rules: spaceRulesSchema,
  enrolledCount: z.number().int().min(0),
  outcome: outcomeSchema,
});

/**
 * `retroactive`: the annulment was given no date of its own, so it takes effect at the decision's
 * own date — wherever a later correction of the decision moves it. Its `occurredAt` is the
 * decision's date when the annulment was recorded. Without it (every annulment recorded before the
 * flag existed, and every one given a date), the annulment takes effect at its `occurredAt`.
 */
export const decisionAnnulledSchema = z.strictObject({
  decisionId: slug,
  reason: reasonSchema,
  retroactive: z.literal(true).optional(),
});
