import {
  isErased,
  type Ledger,
  type LedgerWarning,
  type LegalEntityState,
  type LogPrefixes,
  ledgerFinal,
  type MemberName,
} from '@ptce/domain';
import { isSealedText, type SealedText } from '@ptce/events';
import type { PersonalData } from '@ptce/platform';
// The examples alone, not the platform's barrel: a rebuild thread folding with these answers
// would otherwise load Fastify and the HTTP host it never starts.
import { withExamples } from '@ptce/platform/examples';
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
  readStageAt,
  readStageOnPrefix,
  rulesVersion,
  STAGES,
  type StageAnswer,
  type StageRules,
  type StageTimelineEntry,
  stageAtOnTimeline,
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

// Each answer's example is what the service answers for the val-coop history
// (test/scenarios/val-coop.json) read on 2021-03-01, once the SCIC admitted its associates.

/** Where the examples were read: as the log stood after the last associate's admission. */
const placedExample = { knownAt: '2021-03-01T17:04:12.518Z', position: '00000000000000000042' };

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

export const stageAnswer = withExamples(
  z.object({
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
  }),
  [
    {
      stage: 'divided_groups',
      label: { fr: 'Groupes divisés', en: 'Divided groups' },
      since: '2019-09-01',
      stalled: false,
      criteria: [
        { id: 'min_partners', holds: true, value: 5, threshold: 2 },
        { id: 'all_categories_steering', holds: true, value: 1, threshold: 1 },
        { id: 'steering_share', holds: false, value: 0.8333333333333334, threshold: 0.9 },
        { id: 'entity_registered', holds: false, value: false, threshold: true },
        { id: 'associate_share', holds: false, value: 0, threshold: 0.5 },
      ],
      core: ['asso-mobilite', 'cc-val', 'epicerie-coop', 'garage-martin', 'lycee-agricole'],
      periphery: [],
      outside: ['boulangerie-dupont'],
      rulesVersion: 'stage-rules/v1',
      asOf: '2019-09-15',
      ...placedExample,
      warnings: [],
    },
  ],
);

export const timelineAnswer = withExamples(
  z.object({
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
  }),
  [
    {
      entries: [
        {
          stage: 'individual_impulse',
          label: { fr: 'Impulsion individuelle', en: 'Individual impulse' },
          from: '2017-03-01',
          to: '2018-01-10',
          cause: { eventId: 'c5944985-ae1d-4d11-a0a3-9277907f0347', type: 'PtceRegistered' },
        },
        {
          stage: 'divided_groups',
          label: { fr: 'Groupes divisés', en: 'Divided groups' },
          from: '2018-01-10',
          to: '2019-03-01',
          cause: { eventId: '058a00be-e6fb-4339-80e8-9db72845d2ff', type: 'MemberJoined' },
        },
        {
          stage: 'collective_group',
          label: { fr: 'Groupe collectif', en: 'Collective group' },
          from: '2019-03-01',
          to: '2019-09-01',
          cause: { eventId: '15835134-a6cb-45ac-8ba5-9710521c53bf', type: 'MemberEnrolled' },
        },
        {
          stage: 'divided_groups',
          label: { fr: 'Groupes divisés', en: 'Divided groups' },
          from: '2019-09-01',
          to: '2019-10-01',
          cause: { eventId: 'e7d56fb8-bdd3-46d8-8cc2-4b90fcb23ddc', type: 'MemberJoined' },
        },
        {
          stage: 'collective_group',
          label: { fr: 'Groupe collectif', en: 'Collective group' },
          from: '2019-10-01',
          to: '2021-01-05',
          cause: { eventId: 'fe88ace2-c817-450e-a645-21f8a007e28c', type: 'MemberEnrolled' },
        },
        {
          stage: 'effective',
          label: { fr: 'PTCE effectif', en: 'Effective PTCE' },
          from: '2021-01-05',
          to: null,
          cause: { eventId: '7332d27e-f7c8-4be6-85a2-d0399835b1ee', type: 'AssociateAdmitted' },
        },
      ],
      ...placedExample,
      rulesVersion: 'stage-rules/v1',
      warnings: [],
    },
  ],
);

export const listAnswer = withExamples(
  z.array(z.object({ ptceId: z.string(), name: z.string(), stage: stageSchema })),
  [
    [
      { ptceId: 'val-coop', name: 'Val de Sèvre Coopérations', stage: 'effective' },
      { ptceId: 'pole-estuaire', name: 'Pôle Estuaire Coopérations', stage: 'collective_group' },
    ],
  ],
);

const legalEntitySchema = z.object({
  name: z.string(),
  legalForm: z.string(),
  registrationId: z.string().optional(),
  registeredAt: z.string(),
});

export const stateAnswer = withExamples(
  z.object({
    ptceId: z.string(),
    name: z.string(),
    registeredAt: z.string(),
    registered: z.boolean().describe('whether the registration took effect by asOf'),
    members: z.array(
      z.object({
        organisationId: z.string(),
        name: z
          .string()
          .optional()
          .describe('absent for a natural person whose personal data was erased (then `erased` is true)'),
        erased: z
          .literal(true)
          .optional()
          .describe(
            'a natural person whose personal data was erased: counted as any member, never named again',
          ),
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
  }),
  [
    {
      ptceId: 'val-coop',
      name: 'Val de Sèvre Coopérations',
      registeredAt: '2017-03-01',
      registered: true,
      members: [
        {
          organisationId: 'asso-mobilite',
          name: 'Mobilité Solidaire du Val',
          category: 'ess_enterprise',
          joinedAt: '2017-03-01',
          pilot: true,
          associate: true,
        },
        {
          organisationId: 'boulangerie-dupont',
          name: 'Boulangerie Dupont',
          category: 'enterprise',
          joinedAt: '2019-09-01',
          pilot: false,
          associate: false,
        },
        {
          organisationId: 'cc-val',
          name: 'Communauté de communes du Val',
          category: 'local_authority',
          joinedAt: '2017-06-15',
          pilot: false,
          associate: true,
        },
        {
          organisationId: 'epicerie-coop',
          name: 'Épicerie coopérative du Val',
          category: 'ess_enterprise',
          joinedAt: '2018-01-10',
          pilot: false,
          associate: true,
        },
        {
          organisationId: 'garage-martin',
          name: 'Garage Martin SARL',
          category: 'enterprise',
          joinedAt: '2018-01-10',
          pilot: false,
          associate: true,
        },
        {
          organisationId: 'lycee-agricole',
          name: 'Lycée agricole du Val',
          category: 'training_body',
          joinedAt: '2018-01-10',
          pilot: false,
          associate: true,
        },
      ],
      spaces: [
        {
          spaceId: 'conseil',
          kind: 'governance',
          name: 'Conseil de coopération',
          enrolled: [
            'asso-mobilite',
            'boulangerie-dupont',
            'cc-val',
            'epicerie-coop',
            'garage-martin',
            'lycee-agricole',
          ],
        },
        {
          spaceId: 'copil',
          kind: 'strategic',
          name: 'Comité de pilotage',
          enrolled: ['asso-mobilite', 'epicerie-coop'],
        },
        {
          spaceId: 'gt-alimentation',
          kind: 'operational',
          name: 'Groupe de travail alimentation locale',
          enrolled: ['asso-mobilite', 'epicerie-coop', 'lycee-agricole'],
        },
        {
          spaceId: 'gt-mobilite',
          kind: 'operational',
          name: 'Groupe de travail mobilité rurale',
          enrolled: ['asso-mobilite', 'cc-val', 'garage-martin', 'lycee-agricole'],
        },
      ],
      activities: [
        {
          activityId: 'cjs',
          name: 'Coopérative jeunesse de services',
          launchedAt: '2019-01-20',
          carriers: ['asso-mobilite', 'cc-val', 'lycee-agricole'],
        },
        {
          activityId: 'garage-solidaire',
          name: 'Garage solidaire',
          spaceId: 'gt-mobilite',
          launchedAt: '2018-06-01',
          carriers: ['asso-mobilite', 'garage-martin'],
        },
        {
          activityId: 'magasin-partage',
          name: 'Magasin partagé',
          spaceId: 'gt-alimentation',
          launchedAt: '2018-09-01',
          carriers: ['epicerie-coop', 'lycee-agricole'],
        },
      ],
      legalEntity: {
        name: 'SCIC Val Coopérations',
        legalForm: 'scic',
        registrationId: '000000000',
        registeredAt: '2021-01-05',
      },
      recentDecisions: [
        {
          decisionId: 'priorites-territoriales',
          spaceId: 'copil',
          title:
            'Priorités : mobilité rurale, alimentation locale, artisanat et commerce de proximité, insertion des jeunes',
          outcome: 'adopted',
          decidedAt: '2018-03-01',
          annulled: false,
        },
        {
          decisionId: 'etude-scic',
          spaceId: 'conseil',
          title: "Étude d'une structure juridique partagée (SCIC)",
          outcome: 'adopted',
          decidedAt: '2020-02-01',
          annulled: false,
        },
        {
          decisionId: 'budget-2020',
          spaceId: 'conseil',
          title: 'Budget 2020',
          outcome: 'no_quorum',
          decidedAt: '2020-06-01',
          annulled: false,
        },
        {
          decisionId: 'statuts-scic',
          spaceId: 'conseil',
          title: 'Adoption des statuts de la SCIC',
          outcome: 'adopted',
          decidedAt: '2020-11-15',
          annulled: false,
        },
        {
          decisionId: 'extension',
          spaceId: 'conseil',
          title: 'Extension au pays voisin',
          outcome: 'rejected',
          decidedAt: '2020-11-15',
          annulled: false,
        },
      ],
      warnings: [],
      asOf: '2021-03-01',
      ...placedExample,
    },
  ],
);

export const legalTransitionAnswer = withExamples(
  z.object({
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
  }),
  [
    {
      phase: 'registered',
      legalForm: 'scic',
      entity: {
        name: 'SCIC Val Coopérations',
        legalForm: 'scic',
        registrationId: '000000000',
        registeredAt: '2021-01-05',
      },
      associates: {
        count: 5,
        share: 0.8333333333333334,
        byCollege: { producteurs: 2, collectivites: 1, partenaires: 2 },
        withoutCollege: 0,
      },
      steps: [
        { step: 'exploring', date: '2020-02-01', decisionId: 'etude-scic' },
        { step: 'statutes_adopted', date: '2020-11-15', decisionId: 'statuts-scic' },
        { step: 'registered', date: '2021-01-05', decisionId: null },
      ],
      asOf: '2021-03-01',
      ...placedExample,
      warnings: [],
    },
  ],
);

export const eligibilityAnswer = withExamples(
  z.object({
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
  }),
  [
    {
      eligible: true,
      conditions: [
        {
          id: 'private_law_carrier',
          holds: true,
          unknown: false,
          detail: 'the shared entity SCIC Val Coopérations (scic) is a private-law legal person',
        },
        {
          id: 'three_legal_persons',
          holds: true,
          unknown: false,
          detail: '6 active member(s) are legal persons; at least 3 are needed',
        },
        {
          id: 'ess_enterprise_member',
          holds: true,
          unknown: false,
          detail: '2 active member(s) are ESS enterprises; at least 1 is needed',
        },
        {
          id: 'enterprise_member',
          holds: true,
          unknown: false,
          detail: '2 active member(s) are enterprises outside the ESS; at least 1 is needed',
        },
        {
          id: 'other_category_member',
          holds: true,
          unknown: false,
          detail:
            '2 active legal-person member(s) are of a category other than enterprises; at least 1 is needed',
        },
      ],
      asOf: '2021-03-01',
      ...placedExample,
      warnings: [],
    },
  ],
);

const share = z.number().nullable();
export const participationAnswer = withExamples(
  z.object({
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
  }),
  [
    {
      window: { from: '2019-12-31', to: '2020-12-31', months: 12 },
      steeringCoverage: 1,
      categoryCoverage: 1,
      blau: { membership: 0.7222222222222222, steering: 0.65625 },
      byCategory: {
        ess_enterprise: {
          members: 2,
          memberShare: 0.3333333333333333,
          steeringSeats: 4,
          seatShare: 0.5,
          representationRatio: 1.5,
          attendanceRate: 0.8333333333333334,
        },
        enterprise: {
          members: 2,
          memberShare: 0.3333333333333333,
          steeringSeats: 2,
          seatShare: 0.25,
          representationRatio: 0.75,
          attendanceRate: 0.5,
        },
        local_authority: {
          members: 1,
          memberShare: 0.16666666666666666,
          steeringSeats: 1,
          seatShare: 0.125,
          representationRatio: 0.75,
          attendanceRate: 1,
        },
        research_higher_education: {
          members: 0,
          memberShare: 0,
          steeringSeats: 0,
          seatShare: 0,
          representationRatio: null,
          attendanceRate: null,
        },
        training_body: {
          members: 1,
          memberShare: 0.16666666666666666,
          steeringSeats: 1,
          seatShare: 0.125,
          representationRatio: 0.75,
          attendanceRate: 0.6666666666666666,
        },
        other_legal_person: {
          members: 0,
          memberShare: 0,
          steeringSeats: 0,
          seatShare: 0,
          representationRatio: null,
          attendanceRate: null,
        },
        natural_person: {
          members: 0,
          memberShare: 0,
          steeringSeats: 0,
          seatShare: 0,
          representationRatio: null,
          attendanceRate: null,
        },
      },
      byMember: [
        {
          organisationId: 'asso-mobilite',
          category: 'ess_enterprise',
          spaces: { operational: 2, strategic: 1, governance: 1 },
          steeringSeats: 2,
          attendanceRate: 1,
          meetingsHeld: 3,
          meetingsAttended: 3,
          decisionsAttended: 4,
          activitiesCoCarried: 2,
        },
        {
          organisationId: 'boulangerie-dupont',
          category: 'enterprise',
          spaces: { operational: 0, strategic: 0, governance: 1 },
          steeringSeats: 1,
          attendanceRate: 0.3333333333333333,
          meetingsHeld: 3,
          meetingsAttended: 1,
          decisionsAttended: 2,
          activitiesCoCarried: 0,
        },
        {
          organisationId: 'cc-val',
          category: 'local_authority',
          spaces: { operational: 1, strategic: 0, governance: 1 },
          steeringSeats: 1,
          attendanceRate: 1,
          meetingsHeld: 3,
          meetingsAttended: 3,
          decisionsAttended: 4,
          activitiesCoCarried: 1,
        },
        {
          organisationId: 'epicerie-coop',
          category: 'ess_enterprise',
          spaces: { operational: 1, strategic: 1, governance: 1 },
          steeringSeats: 2,
          attendanceRate: 0.6666666666666666,
          meetingsHeld: 3,
          meetingsAttended: 2,
          decisionsAttended: 3,
          activitiesCoCarried: 1,
        },
        {
          organisationId: 'garage-martin',
          category: 'enterprise',
          spaces: { operational: 1, strategic: 0, governance: 1 },
          steeringSeats: 1,
          attendanceRate: 0.6666666666666666,
          meetingsHeld: 3,
          meetingsAttended: 2,
          decisionsAttended: 3,
          activitiesCoCarried: 1,
        },
        {
          organisationId: 'lycee-agricole',
          category: 'training_body',
          spaces: { operational: 2, strategic: 0, governance: 1 },
          steeringSeats: 1,
          attendanceRate: 0.6666666666666666,
          meetingsHeld: 3,
          meetingsAttended: 2,
          decisionsAttended: 3,
          activitiesCoCarried: 2,
        },
      ],
      asOf: '2020-12-31',
      ...placedExample,
      warnings: [],
    },
  ],
);

type Unplaced<S extends z.ZodType> = Omit<z.infer<S>, 'knownAt' | 'position'>;
export type StageBody = Unplaced<typeof stageAnswer>;
export type TimelineBody = Unplaced<typeof timelineAnswer>;
export type StateBody = Unplaced<typeof stateAnswer>;
type StateMember = StateBody['members'][number];

/**
 * The state as computed and kept (read models included): a natural person's name still sealed,
 * opened only when a reader is answered (`revealState`), so no cache or Redis holds it in clear.
 */
export type SealedStateBody = Omit<StateBody, 'members'> & {
  readonly members: readonly (Omit<StateMember, 'name'> & { readonly name?: MemberName })[];
};

/**
 * The state with each natural person's name opened by its data key, or marked erased when the
 * key is gone: an erasure takes effect for every read at once, whatever the log cut asked.
 */
export async function revealState(body: SealedStateBody, personalData: PersonalData): Promise<StateBody> {
  const sealed = body.members.flatMap((m) => (isSealedText(m.name) ? [m.name] : []));
  const clear = sealed.length > 0 ? await personalData.reveal(sealed) : new Map<SealedText, string | null>();
  return {
    ...body,
    members: body.members.map(({ name, ...member }): StateMember => {
      if (!isSealedText(name)) return name === undefined ? { ...member, erased: true } : { ...member, name };
      const text = clear.get(name);
      return typeof text === 'string' ? { ...member, name: text } : { ...member, erased: true };
    }),
  };
}
export type LegalTransitionBody = Unplaced<typeof legalTransitionAnswer>;
export type EligibilityBody = Unplaced<typeof eligibilityAnswer>;
export type ParticipationBody = Unplaced<typeof participationAnswer>;
export type ListEntry = z.infer<typeof listAnswer>[number];

export function stageBody(ledger: Ledger, asOf: string, rules: StageRules): StageBody {
  const { answer, warnings } = readStageAt(ledger, asOf, rules);
  return stageView(answer, asOf, warnings);
}

/** `stageBody` of the ledger of the first `size` events of the log `prefixes` indexes. */
export function stageBodyOnPrefix(
  prefixes: LogPrefixes,
  size: number,
  asOf: string,
  rules: StageRules,
): StageBody {
  const { answer, warnings } = readStageOnPrefix(prefixes, size, asOf, rules);
  return stageView(answer, asOf, warnings);
}

function stageView(answer: StageAnswer, asOf: string, warnings: readonly LedgerWarning[]): StageBody {
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
    warnings: [...warnings],
  };
}

export function timelineBody(ledger: Ledger, rules: StageRules): TimelineBody {
  return timelineView(stageTimeline(ledger, rules), ledger, rules);
}

function timelineView(
  timeline: readonly StageTimelineEntry[],
  ledger: Ledger,
  rules: StageRules,
): TimelineBody {
  return {
    entries: timeline.map((entry) => ({ ...entry })),
    rulesVersion: rulesVersion(rules),
    warnings: [...warnings(ledger)],
  };
}

/**
 * The stage at `asOf` and the timeline together, as a read model keeps them: the stage's `since`
 * read off the timeline, so the history is replayed for the timeline and once more to `asOf`
 * (a replay the state, participation and the rest then share), not twice more for the stage.
 */
export function stageAndTimelineBodies(
  ledger: Ledger,
  asOf: string,
  rules: StageRules,
): { stage: StageBody; timeline: TimelineBody } {
  const timeline = stageTimeline(ledger, rules);
  const answer = stageAtOnTimeline(ledger, asOf, timeline, rules);
  return {
    stage: stageView(answer, asOf, ledgerAt(ledger, asOf).warnings),
    timeline: timelineView(timeline, ledger, rules),
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
export function stateBody(ptceId: string, ledger: Ledger, asOf: string): SealedStateBody | null {
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
      ...(isErased(ledger, m.organisationId) ? { erased: true as const } : { name: m.name }),
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

export function legalTransitionBody(ledger: Ledger, asOf: string): LegalTransitionBody {
  const state = ledgerAt(ledger, asOf);
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
  const state = ledgerAt(ledger, asOf);
  const eligibility = eligibilityOf(state, asOf);
  return {
    eligible: eligibility.eligible,
    conditions: eligibility.conditions.map((c) => ({ ...c })),
    asOf,
    warnings: [...state.warnings],
  };
}

export function participationBody(ledger: Ledger, asOf: string, windowMonths: number): ParticipationBody {
  const state = ledgerAt(ledger, asOf);
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
