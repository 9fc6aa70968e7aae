import { isDateOnly, slugSchema, validTimeSchema } from '@ptce/events';
import { problemResponse, storeUnavailableResponse, withExamples } from '@ptce/platform';
import {
  eligibilityAnswer,
  legalTransitionAnswer,
  participationAnswer,
  stageAnswer,
} from '@ptce/read-models';
import { z } from 'zod';

/*
 * What a funder pulls. The answers are those of the read service, computed by the same functions,
 * without where they were read (the snapshot says it once) and without any natural person's id:
 * natural persons are counted, never listed.
 */

const positionSchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,100}$/, { message: 'expected a position from an earlier answer' })
  .describe('a position from an earlier snapshot: the log up to it, whatever was recorded since');

const naturalPersonsCount = z
  .number()
  .int()
  .describe('natural persons counted here but not listed: a funder never receives their ids');

export const snapshotStage = stageAnswer.omit({ knownAt: true, position: true }).extend({
  naturalPersons: z
    .object({ core: naturalPersonsCount, periphery: naturalPersonsCount, outside: naturalPersonsCount })
    .describe('natural persons left out of core, periphery and outside'),
});
export const snapshotParticipation = participationAnswer
  .omit({ knownAt: true, position: true })
  .extend({ naturalPersons: naturalPersonsCount.describe('natural persons left out of byMember') });
export const snapshotLegalTransition = legalTransitionAnswer.omit({ knownAt: true, position: true });
export const snapshotEligibility = eligibilityAnswer.omit({ knownAt: true, position: true });

export const snapshotSchema = z.object({
  ptceId: z.string(),
  name: z.string().describe("the PTCE's name as registered"),
  asOf: z.string().describe('valid time: the Paris day the indicators are computed for'),
  position: z
    .string()
    .describe(
      'the last position of the log prefix the snapshot is computed on; give it as atPosition to have it again',
    ),
  rulesVersion: z.string(),
  thresholds: z
    .object({
      minPartners: z.number(),
      collectiveShare: z.number(),
      minAssociateShare: z.number(),
      stalledAfterMonths: z.number(),
    })
    .describe('the stage thresholds in force'),
  heads: z
    .array(z.object({ stream: z.string(), revision: z.number().int(), hash: z.string() }))
    .describe(
      "the last event at or before position of each of the PTCE's streams: where its hash chains stand",
    ),
  members: z.object({
    total: z.number().int().describe('active members at asOf'),
    naturalPersons: z.number().int().describe('of which natural persons'),
  }),
  stage: snapshotStage,
  participation: snapshotParticipation,
  legalTransition: snapshotLegalTransition,
  eligibility: snapshotEligibility,
});
export type Snapshot = z.infer<typeof snapshotSchema>;

export const signatureSchema = z.object({
  alg: z.literal('Ed25519'),
  keyId: z.string().describe('the RFC 7638 thumbprint of the public key, its kid in /.well-known/jwks.json'),
  value: z.string().describe('Ed25519 signature, base64url, of the RFC 8785 canonical JSON of snapshot'),
});

const signedSnapshotSchema = z.object({
  snapshot: snapshotSchema,
  signature: signatureSchema,
  generatedAt: z
    .string()
    .describe('when this answer was made; not signed: the same snapshot is signed the same'),
});

const example: z.input<typeof signedSnapshotSchema> = {
  snapshot: {
    ptceId: 'val-coop',
    name: 'Val de Sèvre Coopérations',
    asOf: '2019-09-15',
    position: '00000000000000000042',
    rulesVersion: 'stage-rules/v1',
    thresholds: { minPartners: 2, collectiveShare: 0.9, minAssociateShare: 0.5, stalledAfterMonths: 12 },
    heads: [
      {
        stream: 'membership-val-coop',
        revision: 11,
        hash: '5b0f0c2d1f1b6c54b1e0d6a1cf3e8e1d0f6b0f1a6c1e2d3f4a5b6c7d8e9f0a1b',
      },
      {
        stream: 'workgroups-val-coop',
        revision: 17,
        hash: '0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b',
      },
      {
        stream: 'decisions-val-coop',
        revision: 8,
        hash: 'f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f',
      },
    ],
    members: { total: 6, naturalPersons: 0 },
    stage: {
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
      naturalPersons: { core: 0, periphery: 0, outside: 0 },
      rulesVersion: 'stage-rules/v1',
      asOf: '2019-09-15',
      warnings: [],
    },
    participation: {
      window: { from: '2018-09-15', to: '2019-09-15', months: 12 },
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
      ],
      naturalPersons: 0,
      asOf: '2019-09-15',
      warnings: [],
    },
    legalTransition: {
      phase: 'exploring',
      legalForm: null,
      entity: null,
      associates: { count: 0, share: 0, byCollege: {}, withoutCollege: 0 },
      steps: [],
      asOf: '2019-09-15',
      warnings: [],
    },
    eligibility: {
      eligible: false,
      conditions: [
        {
          id: 'private_law_carrier',
          holds: false,
          unknown: false,
          detail: 'no shared legal entity is registered',
        },
      ],
      asOf: '2019-09-15',
      warnings: [],
    },
  },
  signature: {
    alg: 'Ed25519',
    keyId: 'kOlM2n1rZ6aFkVbS8b0oGHzv6k3rK0pQJxU7f1a2b3c',
    value: 'x2b1Qm9mYWtlLXNpZ25hdHVyZS1mb3ItdGhlLWV4YW1wbGUtb25seS1ub3QtYS1yZWFsLW9uZS1pdC1pcy02NC1ieXRlcw',
  },
  generatedAt: '2026-01-15T09:30:00.000Z',
};

export const signedSnapshot = withExamples(signedSnapshotSchema, [example]);
export type SignedSnapshot = z.infer<typeof signedSnapshotSchema>;

export const snapshotList = withExamples(
  z.object({ snapshots: z.array(signedSnapshotSchema) }).describe('one signed snapshot per PTCE in scope'),
  [{ snapshots: [example] }],
);

const jwkSchema = z.object({
  kty: z.literal('OKP'),
  crv: z.literal('Ed25519'),
  x: z.string(),
  kid: z.string(),
  use: z.literal('sig'),
  alg: z.literal('EdDSA'),
  status: z.enum(['current', 'retired']).optional(),
});
export const jwksSchema = withExamples(z.object({ keys: z.array(jwkSchema) }), [
  {
    keys: [
      {
        kty: 'OKP',
        crv: 'Ed25519',
        x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo',
        kid: 'kOlM2n1rZ6aFkVbS8b0oGHzv6k3rK0pQJxU7f1a2b3c',
        use: 'sig',
        alg: 'EdDSA',
        status: 'current',
      },
    ],
  },
]);

const asOfSchema = validTimeSchema
  .refine(isDateOnly, { message: 'expected a date YYYY-MM-DD: a snapshot is of a Paris day' })
  .optional()
  .describe("valid time: the Paris day the indicators are computed for; default today's");

const snapshotQueryFields = {
  asOf: asOfSchema,
  knownAt: validTimeSchema
    .optional()
    .describe(
      'transaction time: what had been recorded by then (a date: the end of that Paris day); default now',
    ),
  atPosition: positionSchema.optional(),
};

/** knownAt or atPosition, never both: the refusal names atPosition. */
function oneTransactionTime(
  query: { knownAt?: string | undefined; atPosition?: string | undefined },
  ctx: z.RefinementCtx,
) {
  if (query.knownAt !== undefined && query.atPosition !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['atPosition'], message: 'give knownAt or atPosition, not both' });
  }
}

export const snapshotQuery = z.object(snapshotQueryFields).superRefine(oneTransactionTime);
export type SnapshotQuery = z.infer<typeof snapshotQuery>;

export const listQuery = z
  .object({
    ...snapshotQueryFields,
    format: z
      .enum(['json', 'csv'])
      .default('json')
      .describe('csv: RFC 4180, a header row then one row of headline indicators per PTCE'),
  })
  .superRefine(oneTransactionTime);

/** The languages the report is written in; French first, as PTCE and their funders are. */
export const REPORT_LANGUAGES = ['fr', 'en'] as const;
export type ReportLanguage = (typeof REPORT_LANGUAGES)[number];

export const reportQuery = z
  .object({
    ...snapshotQueryFields,
    lang: z.enum(REPORT_LANGUAGES).default('fr').describe('the language of the page: French or English'),
  })
  .superRefine(oneTransactionTime);

export const reportPage = z
  .string()
  .describe(
    'a self-contained HTML page (no script, nothing loaded from elsewhere) for people: the stage timeline as a chart, participation by category, the legal transition, eligibility, and the key id and signature of the snapshot it is drawn from',
  );

export const csvRows = z
  .string()
  .describe(
    'RFC 4180: a header row then one row of headline indicators per PTCE, each with the key id and signature of its JSON snapshot; CRLF line ends',
  );

export const ptceParams = z.strictObject({ ptceId: slugSchema });

export const errors = {
  400: problemResponse(
    'validation_failed (each field named in `errors`): an impossible date, asOf not a date, or knownAt and atPosition together',
  ),
  403: problemResponse("outside the caller's role or scope"),
  503: storeUnavailableResponse,
};
