import { decideMembership, type Ledger, type MembershipCommand } from '@ptce/domain';
import {
  associateAdmittedSchema,
  categorySchema,
  legalFormSchema,
  memberJoinedSchema,
  nameSchema,
  ptceRegisteredSchema,
  reasonSchema,
  recognitionGrantedSchema,
  slugSchema,
  streamName,
  validTimeSchema,
} from '@ptce/events';
import { zodPlugin } from '@ptce/platform';
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

const tags = ['membership'];
const orgParams = ptceParamsSchema.extend({ organisationId: slugSchema });

const registerBody = ptceRegisteredSchema.extend({
  ptceId: slugSchema.optional().describe('left out: the server makes one from the name'),
  ...factFields,
});
const joinBody = memberJoinedSchema.extend(factFields);
const departureBody = z.strictObject({ reason: reasonSchema.optional(), ...factFields });
const membershipCorrectionBody = z.strictObject({
  name: nameSchema.optional(),
  category: categorySchema.optional(),
  joinedAt: validTimeSchema.optional(),
  ...correctionFields,
});
const pilotBody = z.strictObject({ organisationId: slugSchema, ...factFields });
const legalEntityBody = z.strictObject({
  name: nameSchema,
  legalForm: legalFormSchema,
  registrationId: z.string().min(1).max(50).optional(),
  ...factFields,
});
const legalEntityCorrectionBody = z.strictObject({
  name: nameSchema.optional(),
  legalForm: legalFormSchema.optional(),
  registrationId: z.string().min(1).max(50).optional(),
  registeredAt: validTimeSchema.optional(),
  ...correctionFields,
});
const associateBody = associateAdmittedSchema.extend(factFields);
const withdrawalBody = z.strictObject(factFields);
const recognitionBody = recognitionGrantedSchema.extend(factFields);
const retractionBody = z.strictObject({
  eventId: z.uuid().describe('the event to treat as never made'),
  ...correctionFields,
});

const withPtce = writeResultSchema.extend({ ptceId: slugSchema });
const withOrganisation = withPtce.extend({ organisationId: slugSchema });
const withEvent = withPtce.extend({ retractedEventId: z.string() });

/** A slug from a display name, for a PTCE registered without an id. */
function slugFrom(name: string): string {
  const base = name
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50);
  return base.length > 0 ? base : 'ptce';
}

/**
 * Membership: the PTCE itself, its members and pilot, the shared legal entity and its
 * associates, recognitions, and retractions of any record of the PTCE. Owns `membership-{ptceId}`.
 */
export const membershipService = zodPlugin<WriteSideOptions>(async (app, options) => {
  const deps = writeDeps(options);

  const run = (command: MembershipCommand) => (ledger: Ledger, now: number) =>
    decideMembership(command, ledger, { now });
  const write =
    (status: 200 | 201, ptceId: string, extra: Record<string, unknown> = {}) =>
    () => ({
      status,
      body: { ptceId, ...extra },
    });
  const target = (ptceId: string) => ({
    ptceId,
    stream: streamName('membership', ptceId),
    readStreams: ptceStreams(ptceId),
  });

  app.post(
    '/v1/ptces',
    {
      schema: {
        tags,
        summary: 'Register a PTCE; its pilot organisation becomes its first member',
        headers: writeHeadersSchema,
        body: registerBody,
        response: writeResponses(201, withPtce),
      },
    },
    (request, reply) => {
      const { ptceId: given, ...body } = request.body;
      const ptceId = given ?? slugFrom(body.name);
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'RegisterPtce', ptceId, ...body }),
        respond: write(201, ptceId),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/members',
    {
      schema: {
        tags,
        summary: 'Record that an organisation joined the PTCE',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: joinBody,
        response: writeResponses(201, withOrganisation),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'JoinMember', ...request.body }),
        respond: write(201, ptceId, { organisationId: request.body.organisationId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/members/:organisationId/departure',
    {
      schema: {
        tags,
        summary: 'Record that a member left the PTCE',
        params: orgParams,
        headers: writeHeadersSchema,
        body: departureBody,
        response: writeResponses(200, withOrganisation),
      },
    },
    (request, reply) => {
      const { ptceId, organisationId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'LeaveMember', organisationId, ...request.body }),
        respond: write(200, ptceId, { organisationId }),
      });
    },
  );

  app.patch(
    '/v1/ptces/:ptceId/members/:organisationId',
    {
      schema: {
        tags,
        summary: 'Correct a membership record (name, category, join date)',
        params: orgParams,
        headers: writeHeadersSchema,
        body: membershipCorrectionBody,
        response: writeResponses(200, withOrganisation),
      },
    },
    (request, reply) => {
      const { ptceId, organisationId } = request.params;
      const { reason, ...fields } = request.body;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'CorrectMembership', organisationId, fields, reason }),
        respond: write(200, ptceId, { organisationId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/pilot',
    {
      schema: {
        tags,
        summary: 'Hand the pilot role over to another active member',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: pilotBody,
        response: writeResponses(200, withOrganisation),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'HandOverPilot', ...request.body }),
        respond: write(200, ptceId, { organisationId: request.body.organisationId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/legal-entity',
    {
      schema: {
        tags,
        summary: 'Record the registration of the shared legal entity',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: legalEntityBody,
        response: writeResponses(201, withPtce),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'RegisterLegalEntity', ...request.body }),
        respond: write(201, ptceId),
      });
    },
  );

  app.patch(
    '/v1/ptces/:ptceId/legal-entity',
    {
      schema: {
        tags,
        summary: 'Correct the shared legal entity record',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: legalEntityCorrectionBody,
        response: writeResponses(200, withPtce),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      const { reason, ...fields } = request.body;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'CorrectLegalEntity', fields, reason }),
        respond: write(200, ptceId),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/legal-entity/associates',
    {
      schema: {
        tags,
        summary: 'Record that an active member became an associate of the shared legal entity',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: associateBody,
        response: writeResponses(201, withOrganisation),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'AdmitAssociate', ...request.body }),
        respond: write(201, ptceId, { organisationId: request.body.organisationId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/legal-entity/associates/:organisationId/withdrawal',
    {
      schema: {
        tags,
        summary: 'Record that an associate withdrew from the shared legal entity',
        params: orgParams,
        headers: writeHeadersSchema,
        body: withdrawalBody,
        response: writeResponses(200, withOrganisation),
      },
    },
    (request, reply) => {
      const { ptceId, organisationId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'WithdrawAssociate', organisationId, ...request.body }),
        respond: write(200, ptceId, { organisationId }),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/recognitions',
    {
      schema: {
        tags,
        summary: 'Record a recognition or funding granted to the PTCE',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: recognitionBody,
        response: writeResponses(201, withPtce),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'GrantRecognition', ...request.body }),
        respond: write(201, ptceId),
      });
    },
  );

  app.post(
    '/v1/ptces/:ptceId/retractions',
    {
      schema: {
        tags,
        summary: 'Retract a record of this PTCE: treated as never made, from now on in transaction time',
        params: ptceParamsSchema,
        headers: writeHeadersSchema,
        body: retractionBody,
        response: writeResponses(200, withEvent),
      },
    },
    (request, reply) => {
      const { ptceId } = request.params;
      return handleWrite(deps, request, reply, {
        ...target(ptceId),
        body: request.body,
        decide: run({ type: 'RetractEvent', ...request.body }),
        respond: write(200, ptceId, { retractedEventId: request.body.eventId }),
      });
    },
  );
});
