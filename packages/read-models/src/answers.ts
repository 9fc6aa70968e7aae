import { type Ledger, type LedgerState, type LegalEntityState, ledgerFinal } from '@ptce/domain';
import {
  activeMembersOf,
  activitiesOf,
  ELIGIBILITY_CONDITIONS,
  eligibilityOf,
  LEGAL_PHASES,
  ledgerAt,
  legalTransitionOf,
  openSpacesOf,
  participationOf,
  rulesVersion,
  STAGES,
  type StageRules,
  stageAt,
  stageTimeline,
  warnings,
} from '@ptce/projections';
import { z } from 'zod';

/*
 * What each read answers, as the read service sends it and the projector keeps it: one zod
 * schema per answer (the response's shape and its OpenAPI document) and one function computing
 * it from a folded ledger with the projections' pure functions. An answer here lacks only where
 * in the log it was read (`knownAt`, `position`), which the route adds.
 */

/** How many of the latest decisions the PTCE's state lists. */
const RECENT_DECISIONS = 10;

const stageSchema = z.enum(STAGES as [string, ...string[]]);
const labelSchema = z.object({ fr: z.string(), en: z.string() });
const warningSchema = z.object({
  eventId: z.string(),
  type: z.string(),
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
const criterionSchema = z.object({
  id: z.string(),
  holds: z.boolean(),
  value: z.union([z.number(), z.boolean()]),
  threshold: z.union([z.number(), z.boolean()]),
});
export const readAt = {
  knownAt: z.string().nullable().describe('the knownAt used; null when atPosition was given'),
  position: z
    .string()
    .describe(
      'the last position of the log prefix the answer was computed on; give it as atPosition to have it again',
    ),
};

export const stageAnswer = z.object({
  stage: stageSchema,
  label: labelSchema,
  since: z.string().nullable().describe('the Paris day the stage was reached; null when not started'),
  stalled: z.boolean(),
  criteria: z.array(criterionSchema),
  core: z.array(z.string()),
  periphery: z.array(z.string()),
  outside: z.array(z.string()),
  rulesVersion: z.string(),
  asOf: z.string(),
  ...readAt,
  warnings: z.array(warningSchema),
});

export const timelineAnswer = z.object({
  entries: z.array(
    z.object({
      stage: stageSchema,
      label: labelSchema,
      from: z.string().describe('the Paris day the stage was reached, at its end'),
      to: z.string().nullable().describe("the next entry's from; null for the stage still held"),
      cause: z.object({ eventId: z.string(), type: z.string() }),
    }),
  ),
  ...readAt,
  rulesVersion: z.string(),
  warnings: z.array(warningSchema),
});

export const listAnswer = z.array(z.object({ ptceId: z.string(), name: z.string(), stage: stageSchema }));

const legalEntitySchema = z.object({
  name: z.string(),
  legalForm: z.string(),
  registrationId: z.string().optional(),
  registeredAt: z.string(),
});

export const stateAnswer = z.object({
  ptceId: z.string(),
  name: z.string(),
  registeredAt: z.string(),
  registered: z.boolean().describe('whether the registration took effect by asOf'),
  members: z.array(
    z.object({
      organisationId: z.string(),
      name: z.string(),
      category: z.string(),
      joinedAt: z.string(),
      pilot: z.boolean(),
      associate: z.boolean(),
    }),
  ),
  spaces: z.array(
    z.object({ spaceId: z.string(), kind: z.string(), name: z.string(), enrolled: z.array(z.string()) }),
  ),
  activities: z.array(
    z.object({
      activityId: z.string(),
      name: z.string(),
      spaceId: z.string().optional(),
      launchedAt: z.string(),
      carriers: z.array(z.string()),
    }),
  ),
  legalEntity: legalEntitySchema.nullable(),
  recentDecisions: z
    .array(
      z.object({
        decisionId: z.string(),
        spaceId: z.string(),
        title: z.string(),
        outcome: z.string(),
        decidedAt: z.string(),
        annulled: z.boolean(),
      }),
    )
    .describe(`the latest ${RECENT_DECISIONS} decisions taken by asOf, oldest first`),
  warnings: z.array(warningSchema),
  asOf: z.string(),
  ...readAt,
});

export const legalTransitionAnswer = z.object({
  phase: z.enum(LEGAL_PHASES as [string, ...string[]]),
  legalForm: z.string().nullable(),
  entity: legalEntitySchema.nullable(),
  associates: z.object({
    count: z.number().int(),
    share: z.number(),
    byCollege: z.record(z.string(), z.number().int()),
    withoutCollege: z.number().int(),
  }),
  steps: z.array(z.object({ step: z.string(), date: z.string(), decisionId: z.string().nullable() })),
  asOf: z.string(),
  ...readAt,
  warnings: z.array(warningSchema),
});

export const eligibilityAnswer = z.object({
  eligible: z.boolean(),
  conditions: z.array(
    z.object({
      id: z.enum(ELIGIBILITY_CONDITIONS as [string, ...string[]]),
      holds: z.boolean(),
      unknown: z.boolean().describe('the ledger lacks what the condition needs'),
      detail: z.string(),
    }),
  ),
  asOf: z.string(),
  ...readAt,
  warnings: z.array(warningSchema),
});

const share = z.number().nullable();
export const participationAnswer = z.object({
  window: z.object({
    from: z.string().describe('the first day of the window'),
    to: z.string(),
    months: z.number().int(),
  }),
  steeringCoverage: share,
  categoryCoverage: share,
  blau: z.object({ membership: share, steering: share }),
  byCategory: z.record(
    z.string(),
    z.object({
      members: z.number().int(),
      memberShare: share,
      steeringSeats: z.number().int(),
      seatShare: share,
      representationRatio: share,
      attendanceRate: share,
    }),
  ),
  byMember: z.array(
    z.object({
      organisationId: z.string(),
      category: z.string(),
      spaces: z.record(z.string(), z.number().int()),
      steeringSeats: z.number().int(),
      attendanceRate: share,
      meetingsHeld: z.number().int(),
      meetingsAttended: z.number().int(),
      decisionsAttended: z.number().int(),
      activitiesCoCarried: z.number().int(),
    }),
  ),
  asOf: z.string(),
  ...readAt,
  warnings: z.array(warningSchema),
});

type Unplaced<S extends z.ZodType> = Omit<z.infer<S>, 'knownAt' | 'position'>;
export type StageBody = Unplaced<typeof stageAnswer>;
export type TimelineBody = Unplaced<typeof timelineAnswer>;
export type StateBody = Unplaced<typeof stateAnswer>;
export type LegalTransitionBody = Unplaced<typeof legalTransitionAnswer>;
export type EligibilityBody = Unplaced<typeof eligibilityAnswer>;
export type ParticipationBody = Unplaced<typeof participationAnswer>;
export type ListEntry = z.infer<typeof listAnswer>[number];

export function stageBody(ledger: Ledger, asOf: string, rules: StageRules): StageBody {
  const answer = stageAt(ledger, asOf, rules);
  return {
    stage: answer.stage,
    label: answer.label,
    since: answer.since,
    stalled: answer.stalled,
    criteria: answer.criteria.map((c) => ({ ...c })),
    core: [...answer.core],
    periphery: [...answer.periphery],
    outside: [...answer.outside],
    rulesVersion: answer.rulesVersion,
    asOf,
    warnings: [...warnings(ledger, asOf)],
  };
}

export function timelineBody(ledger: Ledger, rules: StageRules): TimelineBody {
  return {
    entries: stageTimeline(ledger, rules).map((entry) => ({ ...entry })),
    rulesVersion: rulesVersion(rules),
    warnings: [...warnings(ledger)],
  };
}

function entityView(entity: LegalEntityState | null): z.infer<typeof legalEntitySchema> | null {
  if (!entity) return null;
  return {
    name: entity.name,
    legalForm: entity.legalForm,
    ...(entity.registrationId ? { registrationId: entity.registrationId } : {}),
    registeredAt: entity.registeredAt,
  };
}

/** Null when the ledger holds no registration: there is no PTCE to describe. */
export function stateBody(ptceId: string, ledger: Ledger, asOf: string): StateBody | null {
  const registration = ledgerFinal(ledger).registration;
  if (registration === null) return null;
  const state = ledgerAt(ledger, asOf);
  return {
    ptceId,
    name: (state.registration ?? registration).name,
    registeredAt: registration.at,
    registered: state.registration !== null,
    members: activeMembersOf(state).map((m) => ({
      organisationId: m.organisationId,
      name: m.name,
      category: m.category,
      joinedAt: m.joinedAt,
      pilot: m.isPilot,
      associate: m.isAssociate,
    })),
    spaces: openSpacesOf(state).map((s) => ({
      spaceId: s.spaceId,
      kind: s.kind,
      name: s.name,
      enrolled: s.enrolled.map((e) => e.organisationId).sort(),
    })),
    activities: activitiesOf(state).map((a) => ({
      activityId: a.activityId,
      name: a.name,
      ...(a.spaceId ? { spaceId: a.spaceId } : {}),
      launchedAt: a.launchedAt,
      carriers: [...a.carriers],
    })),
    legalEntity: entityView(state.legalEntity),
    recentDecisions: [...state.decisions.values()].slice(-RECENT_DECISIONS).map((d) => ({
      decisionId: d.decisionId,
      spaceId: d.spaceId,
      title: d.title,
      outcome: d.outcome,
      decidedAt: d.decidedAt,
      annulled: d.annulled !== undefined,
    })),
    warnings: [...state.warnings],
    asOf,
  };
}

const stateAt = (ledger: Ledger, asOf: string): LedgerState => ledgerAt(ledger, asOf);

export function legalTransitionBody(ledger: Ledger, asOf: string): LegalTransitionBody {
  const state = stateAt(ledger, asOf);
  const transition = legalTransitionOf(state, asOf);
  return {
    phase: transition.phase,
    legalForm: transition.legalForm,
    entity: entityView(transition.entity),
    associates: { ...transition.associates, byCollege: { ...transition.associates.byCollege } },
    steps: transition.steps.map((step) => ({ ...step })),
    asOf,
    warnings: [...state.warnings],
  };
}

export function eligibilityBody(ledger: Ledger, asOf: string): EligibilityBody {
  const state = stateAt(ledger, asOf);
  const eligibility = eligibilityOf(state, asOf);
  return {
    eligible: eligibility.eligible,
    conditions: eligibility.conditions.map((c) => ({ ...c })),
    asOf,
    warnings: [...state.warnings],
  };
}

export function participationBody(ledger: Ledger, asOf: string, windowMonths: number): ParticipationBody {
  const state = stateAt(ledger, asOf);
  const participation = participationOf(state, asOf, { windowMonths });
  return {
    window: { ...participation.window },
    steeringCoverage: participation.steeringCoverage,
    categoryCoverage: participation.categoryCoverage,
    blau: { ...participation.blau },
    byCategory: Object.fromEntries(
      Object.entries(participation.byCategory).map(([category, c]) => [category, { ...c }]),
    ),
    byMember: participation.byMember.map((m) => ({ ...m, spaces: { ...m.spaces } })),
    asOf,
    warnings: [...state.warnings],
  };
}
