import { type DecisionsCommand, decideDecisions } from '@ptce/domain';
import {
  decisionCorrectedSchema,
  decisionRecordedSchema,
  type EventEnvelope,
  evidenceSchema,
  NOT_PERSONAL,
  outcomeSchema,
  reasonSchema,
  slugSchema,
  spaceRulesSchema,
} from '@ptce/events';
import { type OpenApiTag, withExamples, zodPlugin } from '@ptce/platform';
import {
  correctionFields,
  factFields,
  generatedIdFor,
  occurredAtSchema,
  ptceParamsSchema,
  type WriteSideOptions,
  writeDeps,
  writeResultSchema,
  writeRoutes,
} from '@ptce/write-side';
import { z } from 'zod';

export const decisionsTag: OpenApiTag = {
  name: 'decisions',
  description:
    'Decisions taken at meetings of a space, their corrections and annulments; the server derives each outcome from the rules in force.',
};
const decisionParams = ptceParamsSchema.extend({ decisionId: slugSchema });

// Examples come from the val-coop history (test/scenarios/val-coop.json) where it has the step.
const recordBody = withExamples(
  decisionRecordedSchema.omit({ rules: true, enrolledCount: true, outcome: true }).extend({
    decisionId: slugSchema.optional().describe('left out: the server makes one and returns it'),
    meetingId: slugSchema
      .optional()
      .describe('a meeting of the space: its attendees are the present members'),
    present: decisionRecordedSchema.shape.present
      .optional()
      .describe('members present, enrolled in the space at that date; ignored when meetingId is given'),
    ...factFields,
  }),
  [
    {
      decisionId: 'statuts-scic',
      spaceId: 'conseil',
      meetingId: 'conseil-2020-11-15',
      title: 'Adoption des statuts de la SCIC',
      kind: 'shared_legal_structure',
      subject: { step: 'statutes_adopted', legalForm: 'scic' },
      vote: { for: 5, against: 1, abstain: 0 },
      occurredAt: '2020-11-15',
      evidence: { source: 'procès-verbal du conseil de coopération du 15 novembre 2020' },
    },
    {
      decisionId: 'tarifs-garage',
      spaceId: 'gt-mobilite',
      present: ['asso-mobilite', 'cc-val', 'garage-martin'],
      title: 'Grille de tarifs solidaires du garage',
      kind: 'activity',
      vote: { method: 'consensus', objections: 0 },
      occurredAt: '2018-05-15',
    },
  ],
);
const correctionBody = withExamples(
  decisionCorrectedSchema.shape.fields.extend({
    ...correctionFields,
    evidence: evidenceSchema.optional(),
  }),
  [
    {
      vote: { for: 2, against: 4, abstain: 0 },
      reason: 'une voix contre mal reportée comme abstention',
      evidence: { source: 'feuille de vote du conseil du 15 novembre 2020' },
    },
  ],
);
const annulmentBody = withExamples(
  z.strictObject({
    reason: reasonSchema.describe(`Why the decision is annulled. ${NOT_PERSONAL}`),
    occurredAt: occurredAtSchema
      .optional()
      .describe(
        "when the annulment takes effect; left out: retroactively, at the decision's own date, as known when it is read (a later correction of the decision's date moves the annulment with it)",
      ),
    evidence: evidenceSchema.optional(),
  }),
  [
    {
      reason: 'délibération prise sans quorum, reprise au conseil suivant',
      occurredAt: '2020-07-01',
      evidence: { source: 'relevé de décisions du conseil du 1er juillet 2020' },
    },
  ],
);

const resultExample = {
  eventIds: ['9e2c4a71-3b5d-4f08-a6c2-1d7e8f9a0b34'],
  position: '00000000000000000040',
  revision: 4,
  ptceId: 'val-coop',
};
const withPtce = writeResultSchema.extend({ ptceId: slugSchema });
const withDecision = withExamples(withPtce.extend({ decisionId: slugSchema }), [
  { ...resultExample, decisionId: 'budget-2020' },
]);
const withOutcome = withExamples(
  withDecision.extend({
    outcome: outcomeSchema.describe("derived by the server from the space's rules at that date"),
    rules: spaceRulesSchema.describe('the rules of the space the outcome was derived under'),
  }),
  [
    {
      ...resultExample,
      position: '00000000000000000038',
      revision: 3,
      decisionId: 'statuts-scic',
      outcome: 'adopted',
      rules: { quorum: 0.5, majority: 'two_thirds' },
    },
  ],
);

/**
 * What the server derived, read back from the stored event: a retry answered from an
 * Idempotency-Key record or from recovered events then carries the same outcome.
 */
function derivedOf(appended: readonly EventEnvelope[]) {
  const data = appended[0]?.data ?? {};
  return { outcome: outcomeSchema.parse(data.outcome), rules: spaceRulesSchema.parse(data.rules) };
}

/**
 * Decisions taken in the PTCE's spaces, with the outcome derived by the server, their
 * corrections and annulments. Owns `decisions-{ptceId}`.
 */
export const decisionsService = zodPlugin<WriteSideOptions>(async (app, options) => {
  const route = writeRoutes<DecisionsCommand>(app, {
    family: 'decisions',
    tag: decisionsTag,
    deps: writeDeps(options),
    catalog: options.catalog,
    decide: decideDecisions,
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/decisions',
    operationId: 'recordDecision',
    summary: 'Record a decision of a space; the server derives its outcome',
    description:
      "A decision taken at a meeting of a space, with its vote and present members: the server derives adopted, rejected or no_quorum from the space's rules in force that day, and answers it.",
    params: ptceParamsSchema,
    body: recordBody,
    status: 201,
    result: withOutcome,
    ask: ({ params: { ptceId }, body: { decisionId: given, ...body }, context }) => {
      const decisionId = given ?? generatedIdFor('dc', context, body);
      return { ptceId, command: { type: 'RecordDecision', decisionId, ...body }, names: { decisionId } };
    },
    derive: derivedOf,
  });

  route({
    method: 'PATCH',
    url: '/v1/ptces/:ptceId/decisions/:decisionId',
    operationId: 'correctDecision',
    summary: 'Correct a decision (vote, present members, date, title); its outcome is derived again',
    description:
      "Fixes a decision's vote, present members, date or title with a reason; its outcome is derived again from the rules in force at its date.",
    params: decisionParams,
    body: correctionBody,
    status: 200,
    result: withOutcome,
    ask: ({ params: { ptceId, decisionId }, body: { reason, evidence, ...fields } }) => ({
      ptceId,
      command: { type: 'CorrectDecision', decisionId, fields, reason, evidence },
      names: { decisionId },
    }),
    derive: derivedOf,
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/decisions/:decisionId/annulment',
    operationId: 'annulDecision',
    summary: 'Record that a decision was annulled',
    description:
      'The decision stops having effect from occurredAt, or from its own date when that is left out; it stays in the history.',
    params: decisionParams,
    body: annulmentBody,
    status: 200,
    result: withDecision,
    ask: ({ params: { ptceId, decisionId }, body }) => ({
      ptceId,
      command: { type: 'AnnulDecision', decisionId, ...body },
      names: { decisionId },
    }),
  });
});
