import { decideWorkingGroups, type Ledger, type WorkingGroupsCommand } from '@ptce/domain';
import {
  activityEndedSchema,
  activityLaunchedSchema,
  carrierJoinedSchema,
  evidenceSchema,
  meetingHeldSchema,
  memberEnrolledSchema,
  slugSchema,
  spaceOpenedSchema,
  spaceRoleSchema,
  spaceRulesSchema,
  validTimeSchema,
} from '@ptce/events';
import { zodPlugin } from '@ptce/platform';
import {
  correctionFields,
  factFields,
  generatedIdFor,
  handleWrite,
  ptceParamsSchema,
  ptceTarget,
  respondNaming,
  type WriteSideOptions,
  writeDeps,
  writeHeadersSchema,
  writeResponses,
  writeResultSchema,
} from '@ptce/write-side';
import { z } from 'zod';
import { withExamples } from './examples.ts';

const tags = ['working groups'];
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
  const deps = writeDeps(options);

  const run = (command: WorkingGroupsCommand) => (ledger: Ledger, now: number) =>
    decideWorkingGroups(command, ledger, { now });
  const target = (ptceId: string) => ptceTarget('workgroups', ptceId);

  app.post(
    '/v1/ptces/:ptceId/spaces',
    {
      schema: {
        tags,
        summary: 'Open a space: a working group, a steering committee or a governance council',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: openSpaceBody,
        response: writeResponses(201, withSpace),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      const { spaceId: given, ...body } = request.body;
      const spaceId = given ?? generatedIdFor('sp', request);
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'OpenSpace', spaceId, ...body }),
        respond: respondNaming(201, ptceId, { spaceId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/spaces/:spaceId/members',
    {
      schema: {
        tags,
        summary: 'Enrol an active member of the PTCE in a space',
        params: spaceParams,
        headers: writeHeadersSchema,
        body: enrolBody,
        response: writeResponses(201, withSpaceMember),
      },
    },
    (request, reply) => {
      const { ptceId, spaceId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'EnrolMember', spaceId, ...request.body }),
        respond: respondNaming(201, ptceId, { spaceId, organisationId: request.body.organisationId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/spaces/:spaceId/members/:organisationId/withdrawal',
    {
      schema: {
        tags,
        summary: 'Record that a member withdrew from a space',
        params: spaceMemberParams,
        headers: writeHeadersSchema,
        body: factOnlyBody,
        response: writeResponses(200, withSpaceMember),
      },
    },
    (request, reply) => {
      const { ptceId, spaceId, organisationId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'WithdrawFromSpace', spaceId, organisationId, ...request.body }),
        respond: respondNaming(200, ptceId, { spaceId, organisationId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/spaces/:spaceId/meetings',
    {
      schema: {
        tags,
        summary: 'Record a meeting of a space and who attended it',
        params: spaceParams,
        headers: writeHeadersSchema,
        body: meetingBody,
        response: writeResponses(201, withMeeting),
      },
    },
    (request, reply) => {
      const { ptceId, spaceId } = request.params;
      const { meetingId: given, ...body } = request.body;
      const meetingId = given ?? generatedIdFor('mt', request);
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'HoldMeeting', spaceId, meetingId, ...body }),
        respond: respondNaming(201, ptceId, { spaceId, meetingId }),
      });
    },
  );

  app.patch(
    '/v1/ptces/:ptceId/spaces/:spaceId/meetings/:meetingId',
    {
      schema: {
        tags,
        summary: "Correct a meeting's attendance or date",
        params: meetingParams,
        headers: writeHeadersSchema,
        body: meetingCorrectionBody,
        response: writeResponses(200, withMeeting),
      },
    },
    (request, reply) => {
      const { ptceId, spaceId, meetingId } = request.params;
      const { reason, evidence, ...fields } = request.body;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'CorrectMeeting', spaceId, meetingId, fields, reason, evidence }),
        respond: respondNaming(200, ptceId, { spaceId, meetingId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/spaces/:spaceId/closure',
    {
      schema: {
        tags,
        summary: 'Close a space; nothing more can be recorded in it from that date',
        params: spaceParams,
        headers: writeHeadersSchema,
        body: factOnlyBody,
        response: writeResponses(200, withSpace),
      },
    },
    (request, reply) => {
      const { ptceId, spaceId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'CloseSpace', spaceId, ...request.body }),
        respond: respondNaming(200, ptceId, { spaceId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/activities',
    {
      schema: {
        tags,
        summary: 'Record the launch of an activity carried by active members',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: launchBody,
        response: writeResponses(201, withActivity),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      const { activityId: given, ...body } = request.body;
      const activityId = given ?? generatedIdFor('ac', request);
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'LaunchActivity', activityId, ...body }),
        respond: respondNaming(201, ptceId, { activityId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/activities/:activityId/carriers',
    {
      schema: {
        tags,
        summary: 'Record that an active member joined the carriers of an activity',
        params: activityParams,
        headers: writeHeadersSchema,
        body: carrierBody,
        response: writeResponses(200, withCarrier),
      },
    },
    (request, reply) => {
      const { ptceId, activityId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'JoinActivityCarrier', activityId, ...request.body }),
        respond: respondNaming(200, ptceId, { activityId, organisationId: request.body.organisationId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/activities/:activityId/end',
    {
      schema: {
        tags,
        summary: 'Record that an activity ended',
        params: activityParams,
        headers: writeHeadersSchema,
        body: endBody,
        response: writeResponses(200, withActivity),
      },
    },
    (request, reply) => {
      const { ptceId, activityId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'EndActivity', activityId, ...request.body }),
        respond: respondNaming(200, ptceId, { activityId }),
      });
    },
  );
});
