import { z } from 'zod';
import { slugSchema } from '../ids.ts';
import { distinctIds, freeTextSchema, lineTextSchema } from '../text.ts';

// The catalog's ids are the API's slugs.
export const catalogSlugSchema = slugSchema;

/** Article 9 of law n° 2014-856: the natures of PTCE members. */
export const categorySchema = z.enum([
  'ess_enterprise',
  'enterprise',
  'local_authority',
  'research_higher_education',
  'training_body',
  'other_legal_person',
  'natural_person',
]);
export type Category = z.infer<typeof categorySchema>;

/**
 * Whether a member is a public or a private person in law. Given by the secretary or not at all:
 * the ledger stores only what was given, and the read side supplies a default from the category.
 */
export const legalStatusSchema = z.enum(['public', 'private']);
export type LegalStatus = z.infer<typeof legalStatusSchema>;

export const spaceKindSchema = z.enum(['operational', 'strategic', 'governance']);
export type SpaceKind = z.infer<typeof spaceKindSchema>;

export const spaceRoleSchema = z.enum(['member', 'chair', 'secretary', 'co_manager']);
export type SpaceRole = z.infer<typeof spaceRoleSchema>;

export const majoritySchema = z.enum(['simple', 'absolute', 'two_thirds', 'unanimity', 'consensus']);
export type Majority = z.infer<typeof majoritySchema>;

export const decisionKindSchema = z.enum([
  'general',
  'admission',
  'activity',
  'priority',
  'budget',
  'rules',
  'shared_legal_structure',
]);
export type DecisionKind = z.infer<typeof decisionKindSchema>;

export const legalFormSchema = z.enum([
  'scic',
  'association',
  'sas',
  'sarl',
  'scop',
  'gie',
  'endowment_fund',
  'foundation',
  'other',
]);
export type LegalForm = z.infer<typeof legalFormSchema>;

export const legalStepSchema = z.enum(['study_opened', 'form_chosen', 'statutes_adopted']);
export type LegalStep = z.infer<typeof legalStepSchema>;

export const outcomeSchema = z.enum(['adopted', 'rejected', 'no_quorum']);
export type Outcome = z.infer<typeof outcomeSchema>;

export const sha256Schema = z.string().regex(/^[0-9a-f]{64}$/i, 'expected 64 hex characters');

/** Free text nothing can erase: the API says so wherever it is asked for. */
export const NOT_PERSONAL =
  "Kept in the log for ever, beyond the reach of any erasure: never personal data (no person's name, address, health or situation).";
export const evidenceSchema = z.strictObject({
  source: freeTextSchema
    .min(1)
    .max(500)
    .optional()
    .describe(`Where the fact is attested (a minute, a letter). ${NOT_PERSONAL}`),
  sha256: sha256Schema.optional(),
  note: freeTextSchema.max(2000).optional().describe(NOT_PERSONAL),
});
export type EvidenceData = z.infer<typeof evidenceSchema>;

export const spaceRulesSchema = z.strictObject({
  /** Share of the space's enrolled members that must be present. */
  quorum: z.number().min(0).max(1),
  majority: majoritySchema,
});
export type SpaceRules = z.infer<typeof spaceRulesSchema>;

export const DEFAULT_SPACE_RULES: SpaceRules = { quorum: 0.5, majority: 'simple' };

const count = z.number().int().min(0);

export const tallySchema = z.strictObject({ for: count, against: count, abstain: count });
export type Tally = z.infer<typeof tallySchema>;

export const consensusSchema = z.strictObject({ method: z.literal('consensus'), objections: count });
export type ConsensusVote = z.infer<typeof consensusSchema>;

export const voteSchema = z.union([tallySchema, consensusSchema]);
export type Vote = z.infer<typeof voteSchema>;

export const legalStructureSubjectSchema = z.strictObject({
  step: legalStepSchema,
  legalForm: legalFormSchema,
});
export const admissionSubjectSchema = z.strictObject({ organisationId: catalogSlugSchema });
export const decisionSubjectSchema = z.union([legalStructureSubjectSchema, admissionSubjectSchema]);
export type DecisionSubject = z.infer<typeof decisionSubjectSchema>;

// The text rules come before trimming: a name wrapped in invisible characters is refused, not
// quietly trimmed of some of them.
export const nameSchema = lineTextSchema.trim().min(1).max(300);
export const reasonSchema = freeTextSchema.trim().min(1).max(2000).describe(`Why. ${NOT_PERSONAL}`);
/** A short label: a theme, a college. */
export const labelSchema = lineTextSchema.trim().min(1).max(100);
/** An identifier given by someone else (a SIREN, a département code), kept as given. */
export const externalIdSchema = (max: number) => lineTextSchema.min(1).max(max);
/** The registration number of the shared legal entity (SIREN, RNA…). */
export const registrationIdSchema = externalIdSchema(50);
/** The id or the type of an event, as the server names it in corrections and retractions. */
export const eventRefSchema = lineTextSchema.min(1);

/** Organisations listed at most once each (attendees, carriers, members present). */
export const organisationListSchema = distinctIds(catalogSlugSchema);
