import { decideWorkingGroups, type WorkingGroupsCommand } from '@ptce/domain';
import {
  activityEndedSchema,
  activityLaunchedSchema,
  carrierJoinedSchema,
  evidenceSchema,
  majoritySchema,
  meetingHeldSchema,
  memberEnrolledSchema,
  NOT_PERSONAL,
  reasonSchema,
  slugSchema,
  spaceOpenedSchema,
  spaceRoleSchema,
  spaceRulesSchema,
  validTimeSchema,
} from '@ptce/events';
import { type OpenApiTag, withExamples, zodPlugin } from '@ptce/platform';
import {
  correctionFields,
  factFields,
  generatedIdFor,
  ptceParamsSchema,
  type WriteSideOptions,
  writeDeps,
  writeResultSchema,
  writeRoutes,
} from '@ptce/write-side';
import { z } from 'zod';

export const workingGroupsTag: OpenApiTag = {
  name: 'working groups',
  description:
    'Spaces (working groups, steering committees, governance councils), their rules, enrolments and meetings; activities and their carriers.',
};
const spaceParams = ptceParamsSchema.extend({ spaceId: slugSchema });
const spaceMemberParams = spaceParams.extend({ organisationId: slugSchema });
const meetingParams = spaceParams.extend({ meetingId: slugSchema });
const activityParams = ptceParamsSchema.extend({ activityId: slugSchema });

// Examples come from the val-coop history (test/scenarios/val-coop.json) where it has the step.
const openSpaceBody = withExamples(
  spaceOpenedSchema.extend({
    spaceId: slugSchema.optional().describe('left out: the server makes one and returns it'),
    rules: spaceRulesSchema.optional().describe('left out: quorum 0.5, simple majority'),
    ...factFields,
  }),
  [
    {
      spaceId: 'gt-mobilite',
      kind: 'operational',
      name: 'Groupe de travail mobilité rurale',
      themes: ['mobility'],
      rules: { quorum: 0.5, majority: 'simple' },
      occurredAt: '2017-09-01',
    },
    {
      spaceId: 'conseil',
      kind: 'governance',
      name: 'Conseil de coopération',
      rules: { quorum: 0.5, majority: 'two_thirds' },
      occurredAt: '2019-03-01',
    },
  ],
);
const enrolBody = withExamples(
  memberEnrolledSchema.omit({ spaceId: true }).extend({
    role: spaceRoleSchema.optional().describe('left out: member'),
    ...factFields,
  }),
  [
    { organisationId: 'cc-val', occurredAt: '2017-09-01' },
    {
      organisationId: 'asso-mobilite',
      role: 'chair',
      occurredAt: '2019-03-01',
      evidence: { source: "procès-verbal de la séance d'installation du conseil" },
    },
  ],
);
const factOnlyBody = withExamples(z.strictObject(factFields), [
  { occurredAt: '2022-09-01', evidence: { source: 'courriel du garage au groupe de travail' } },
  { occurredAt: '2023-12-31', evidence: { source: 'relevé de décisions du comité de pilotage' } },
]);
const rulesBody = withExamples(
  z.strictObject({
    quorum: spaceRulesSchema.shape.quorum.describe(
      "share of the space's enrolled members that must be present, from 0 to 1",
    ),
    majority: majoritySchema,
    reason: reasonSchema.optional().describe(`Why the rules change. ${NOT_PERSONAL}`),
    ...factFields,
  }),
  [
    {
      quorum: 0.4,
      majority: 'absolute',
      occurredAt: '2022-01-15',
      reason: 'règlement intérieur révisé : quorum abaissé pour les séances en visioconférence',
      evidence: { source: "procès-verbal du conseil de coopération, point 3 de l'ordre du jour" },
    },
  ],
);
const meetingBody = withExamples(
  meetingHeldSchema.omit({ spaceId: true }).extend({
    meetingId: slugSchema.optional().describe('left out: the server makes one and returns it'),
    ...factFields,
  }),
  [
    {
      meetingId: 'copil-2018-03-01',
      attendees: ['asso-mobilite', 'epicerie-coop'],
      occurredAt: '2018-03-01',
    },
    {
      meetingId: 'conseil-2020-11-15',
      attendees: [
        'asso-mobilite',
        'cc-val',
        'epicerie-coop',
        'garage-martin',
        'lycee-agricole',
        'boulangerie-dupont',
      ],
      guests: 2,
      occurredAt: '2020-11-15',
    },
  ],
);
const meetingCorrectionBody = withExamples(
  z.strictObject({
    attendees: meetingHeldSchema.shape.attendees.optional(),
    heldAt: validTimeSchema.optional(),
    ...correctionFields,
    evidence: evidenceSchema.optional(),
  }),
  [
    {
      attendees: ['asso-mobilite', 'cc-val', 'epicerie-coop'],
      reason: "l'épicerie coopérative était présente mais absente de la feuille d'émargement",
      evidence: { source: "feuille d'émargement signée, retrouvée aux archives" },
    },
  ],
);
const launchBody = withExamples(
  activityLaunchedSchema.extend({
    activityId: slugSchema.optional().describe('left out: the server makes one and returns it'),
    ...factFields,
  }),
  [
    {
      activityId: 'garage-solidaire',
      name: 'Garage solidaire',
      theme: 'mobility',
      carriers: ['asso-mobilite', 'garage-martin'],
      spaceId: 'gt-mobilite',
      occurredAt: '2018-06-01',
    },
    {
      activityId: 'cjs',
      name: 'Coopérative jeunesse de services',
      theme: 'youth',
      carriers: ['lycee-agricole', 'cc-val', 'asso-mobilite'],
      occurredAt: '2019-01-20',
    },
  ],
);
const carrierBody = withExamples(carrierJoinedSchema.omit({ activityId: true }).extend(factFields), [
  {
    organisationId: 'boulangerie-dupont',
    occurredAt: '2020-01-15',
    evidence: { source: 'convention de partenariat du magasin partagé' },
  },
]);
const endBody = withExamples(activityEndedSchema.omit({ activityId: true }).extend(factFields), [
  {
    reason: 'fin du financement jeunesse ; activité reprise par la mission locale',
    occurredAt: '2023-08-31',
  },
]);

const resultExample = {
  eventIds: ['5b0f6c3e-2d4a-4f7b-9c1e-8a3d2f6e4b10'],
  position: '00000000000000000003',
  revision: 0,
  ptceId: 'val-coop',
};
const withPtce = writeResultSchema.extend({ ptceId: slugSchema });
const withSpace = withExamples(withPtce.extend({ spaceId: slugSchema }), [
  { ...resultExample, spaceId: 'gt-mobilite' },
]);
const withSpaceMember = withExamples(withSpace.extend({ organisationId: slugSchema }), [
  {
    ...resultExample,
    position: '00000000000000000005',
    revision: 2,
    spaceId: 'gt-mobilite',
    organisationId: 'cc-val',
  },
]);
const withMeeting = withExamples(withSpace.extend({ meetingId: slugSchema }), [
  {
    ...resultExample,
    position: '00000000000000000019',
    revision: 14,
    spaceId: 'copil',
    meetingId: 'copil-2018-03-01',
  },
]);
const withActivity = withExamples(withPtce.extend({ activityId: slugSchema }), [
  { ...resultExample, position: '00000000000000000021', revision: 15, activityId: 'garage-solidaire' },
]);
const withCarrier = withExamples(withActivity.extend({ organisationId: slugSchema }), [
  {
    ...resultExample,
    position: '00000000000000000031',
    revision: 25,
    activityId: 'magasin-partage',
    organisationId: 'boulangerie-dupont',
  },
]);

/**
 * Working groups: the PTCE's spaces (working groups, steering committee, council), their
 * enrolled members and meetings, and the activities members carry. Owns `workgroups-{ptceId}`.
 */
export const workingGroupsService = zodPlugin<WriteSideOptions>(async (app, options) => {
  const route = writeRoutes<WorkingGroupsCommand>(app, {
    family: 'workgroups',
    tag: workingGroupsTag,
    deps: writeDeps(options),
    catalog: options.catalog,
    decide: decideWorkingGroups,
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/spaces',
    operationId: 'openSpace',
    summary: 'Open a space: a working group, a steering committee or a governance council',
    description:
      'A space where members work or decide, with the rules its decisions are taken by (quorum, majority), from occurredAt.',
    params: ptceParamsSchema,
    body: openSpaceBody,
    status: 201,
    result: withSpace,
    ask: ({ params: { ptceId }, body: { spaceId: given, ...body }, context }) => {
      const spaceId = given ?? generatedIdFor('sp', context, body);
      return { ptceId, command: { type: 'OpenSpace', spaceId, ...body }, names: { spaceId } };
    },
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/spaces/:spaceId/members',
    operationId: 'enrolMember',
    summary: 'Enrol an active member of the PTCE in a space',
    description: 'The member takes part in the space from occurredAt, until it withdraws or leaves the PTCE.',
    params: spaceParams,
    body: enrolBody,
    status: 201,
    result: withSpaceMember,
    ask: ({ params: { ptceId, spaceId }, body }) => ({
      ptceId,
      command: { type: 'EnrolMember', spaceId, ...body },
      names: { spaceId, organisationId: body.organisationId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/spaces/:spaceId/members/:organisationId/withdrawal',
    operationId: 'recordSpaceWithdrawal',
    summary: 'Record that a member withdrew from a space',
    description: "Ends the member's enrolment in the space at occurredAt; it stays a member of the PTCE.",
    params: spaceMemberParams,
    body: factOnlyBody,
    status: 200,
    result: withSpaceMember,
    ask: ({ params: { ptceId, spaceId, organisationId }, body }) => ({
      ptceId,
      command: { type: 'WithdrawFromSpace', spaceId, organisationId, ...body },
      names: { spaceId, organisationId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/spaces/:spaceId/meetings',
    operationId: 'recordMeeting',
    summary: 'Record a meeting of a space and who attended it',
    description:
      'A meeting of the space at occurredAt; every attendee must be enrolled in the space that day. Decisions are taken at meetings.',
    params: spaceParams,
    body: meetingBody,
    status: 201,
    result: withMeeting,
    ask: ({ params: { ptceId, spaceId }, body: { meetingId: given, ...body }, context }) => {
      const meetingId = given ?? generatedIdFor('mt', context, body);
      return {
        ptceId,
        command: { type: 'HoldMeeting', spaceId, meetingId, ...body },
        names: { spaceId, meetingId },
      };
    },
  });

  route({
    method: 'PATCH',
    url: '/v1/ptces/:ptceId/spaces/:spaceId/meetings/:meetingId',
    operationId: 'correctMeeting',
    summary: "Correct a meeting's attendance or date",
    description:
      "Fixes a meeting's attendees or date with a reason; refused with 422 contradicts_history when a decision taken at it would no longer hold.",
    params: meetingParams,
    body: meetingCorrectionBody,
    status: 200,
    result: withMeeting,
    ask: ({ params: { ptceId, spaceId, meetingId }, body: { reason, evidence, ...fields } }) => ({
      ptceId,
      command: { type: 'CorrectMeeting', spaceId, meetingId, fields, reason, evidence },
      names: { spaceId, meetingId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/spaces/:spaceId/rules',
    operationId: 'changeSpaceRules',
    summary:
      'Change the rules a space decides by, from a date on; decisions dated from then derive their outcome from them',
    description:
      'New quorum and majority rules from occurredAt; earlier decisions keep the rules in force on their date.',
    params: spaceParams,
    body: rulesBody,
    status: 201,
    result: withSpace,
    ask: ({ params: { ptceId, spaceId }, body: { quorum, majority, ...body } }) => ({
      ptceId,
      command: { type: 'ChangeSpaceRules', spaceId, rules: { quorum, majority }, ...body },
      names: { spaceId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/spaces/:spaceId/closure',
    operationId: 'closeSpace',
    summary: 'Close a space; nothing more can be recorded in it from that date',
    description:
      'The space is closed from occurredAt: no enrolment, meeting or decision can be recorded in it from then on.',
    params: spaceParams,
    body: factOnlyBody,
    status: 200,
    result: withSpace,
    ask: ({ params: { ptceId, spaceId }, body }) => ({
      ptceId,
      command: { type: 'CloseSpace', spaceId, ...body },
      names: { spaceId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/activities',
    operationId: 'launchActivity',
    summary: 'Record the launch of an activity carried by active members',
    description:
      'An economic activity of the PTCE, launched at occurredAt and carried by one or more active members.',
    params: ptceParamsSchema,
    body: launchBody,
    status: 201,
    result: withActivity,
    ask: ({ params: { ptceId }, body: { activityId: given, ...body }, context }) => {
      const activityId = given ?? generatedIdFor('ac', context, body);
      return { ptceId, command: { type: 'LaunchActivity', activityId, ...body }, names: { activityId } };
    },
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/activities/:activityId/carriers',
    operationId: 'addActivityCarrier',
    summary: 'Record that an active member joined the carriers of an activity',
    description:
      'Another active member carries the activity from occurredAt, until it leaves the PTCE or the activity ends.',
    params: activityParams,
    body: carrierBody,
    status: 200,
    result: withCarrier,
    ask: ({ params: { ptceId, activityId }, body }) => ({
      ptceId,
      command: { type: 'JoinActivityCarrier', activityId, ...body },
      names: { activityId, organisationId: body.organisationId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/activities/:activityId/end',
    operationId: 'endActivity',
    summary: 'Record that an activity ended',
    description: 'The activity ended at occurredAt; nothing more can be recorded of it.',
    params: activityParams,
    body: endBody,
    status: 200,
    result: withActivity,
    ask: ({ params: { ptceId, activityId }, body }) => ({
      ptceId,
      command: { type: 'EndActivity', activityId, ...body },
      names: { activityId },
    }),
  });
});
