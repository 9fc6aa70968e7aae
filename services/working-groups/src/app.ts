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
  streamName,
  validTimeSchema,
} from '@ptce/events';
import { principalOf, zodPlugin } from '@ptce/platform';
import {
  correctionFields,
  factFields,
  handleWrite,
  ptceParamsSchema,
  ptceStreams,
  type WriteSideOptions,
  writeDeps,
  writeHeadersSchema,
  writeResponses,
  writeResultSchema,
} from '@ptce/write-side';
import { z } from 'zod';
import { generatedId } from './ids.ts';

const tags = ['working groups'];
const spaceParams = ptceParamsSchema.extend({ spaceId: slugSchema });
const spaceMemberParams = spaceParams.extend({ organisationId: slugSchema });
const meetingParams = spaceParams.extend({ meetingId: slugSchema });
const activityParams = ptceParamsSchema.extend({ activityId: slugSchema });

const openSpaceBody = spaceOpenedSchema.extend({
  spaceId: slugSchema.optional().describe('left out: the server makes one and returns it'),
  rules: spaceRulesSchema.optional().describe('left out: quorum 0.5, simple majority'),
  ...factFields,
});
const enrolBody = memberEnrolledSchema.omit({ spaceId: true }).extend({
  role: spaceRoleSchema.optional().describe('left out: member'),
  ...factFields,
});
const factOnlyBody = z.strictObject(factFields);
const meetingBody = meetingHeldSchema.omit({ spaceId: true }).extend({
  meetingId: slugSchema.optional().describe('left out: the server makes one and returns it'),
  ...factFields,
});
const meetingCorrectionBody = z.strictObject({
  attendees: meetingHeldSchema.shape.attendees.optional(),
  heldAt: validTimeSchema.optional(),
  ...correctionFields,
  evidence: evidenceSchema.optional(),
});
const launchBody = activityLaunchedSchema.extend({
  activityId: slugSchema.optional().describe('left out: the server makes one and returns it'),
  ...factFields,
});
const carrierBody = carrierJoinedSchema.omit({ activityId: true }).extend(factFields);
const endBody = activityEndedSchema.omit({ activityId: true }).extend(factFields);

const withPtce = writeResultSchema.extend({ ptceId: slugSchema });
const withSpace = withPtce.extend({ spaceId: slugSchema });
const withSpaceMember = withSpace.extend({ organisationId: slugSchema });
const withMeeting = withSpace.extend({ meetingId: slugSchema });
const withActivity = withPtce.extend({ activityId: slugSchema });
const withCarrier = withActivity.extend({ organisationId: slugSchema });

/**
 * Working groups: the PTCE's spaces (working groups, steering committee, council), their
 * enrolled members and meetings, and the activities members carry. Owns `workgroups-{ptceId}`.
 */
export const workingGroupsService = zodPlugin<WriteSideOptions>(async (app, options) => {
  const deps = writeDeps(options);

  const run = (command: WorkingGroupsCommand) => (ledger: Ledger, now: number) =>
    decideWorkingGroups(command, ledger, { now });
  const write =
    (status: 200 | 201, ptceId: string, extra: Record<string, unknown> = {}) =>
    () => ({
      status,
      body: { ptceId, ...extra },
    });
  const target = (ptceId: string) => ({
    ptceId,
    stream: streamName('workgroups', ptceId),
    readStreams: ptceStreams(ptceId),
  });

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
      const spaceId =
        given ??
        generatedId('sp', {
          sub: principalOf(request).sub,
          idempotencyKey: request.headers['idempotency-key'],
        });
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'OpenSpace', spaceId, ...body }),
        respond: write(201, ptceId, { spaceId }),
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
        respond: write(201, ptceId, { spaceId, organisationId: request.body.organisationId }),
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
        respond: write(200, ptceId, { spaceId, organisationId }),
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
      const meetingId =
        given ??
        generatedId('mt', {
          sub: principalOf(request).sub,
          idempotencyKey: request.headers['idempotency-key'],
        });
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'HoldMeeting', spaceId, meetingId, ...body }),
        respond: write(201, ptceId, { spaceId, meetingId }),
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
        respond: write(200, ptceId, { spaceId, meetingId }),
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
        respond: write(200, ptceId, { spaceId }),
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
      const activityId =
        given ??
        generatedId('ac', {
          sub: principalOf(request).sub,
          idempotencyKey: request.headers['idempotency-key'],
        });
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'LaunchActivity', activityId, ...body }),
        respond: write(201, ptceId, { activityId }),
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
        respond: write(200, ptceId, { activityId, organisationId: request.body.organisationId }),
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
        respond: write(200, ptceId, { activityId }),
      });
    },
  );
});
