import { DomainError, decideMembership, type MembershipCommand } from '@ptce/domain';
import {
  associateAdmittedSchema,
  categorySchema,
  legalFormSchema,
  legalStatusSchema,
  memberJoinedSchema,
  NOT_PERSONAL,
  nameSchema,
  personalSubject,
  ptceRegisteredSchema,
  ptceStreams,
  reasonSchema,
  recognitionGrantedSchema,
  registrationIdSchema,
  slugSchema,
  validTimeSchema,
} from '@ptce/events';
import { examplesOf, type OpenApiTag, withExamples, zodPlugin } from '@ptce/platform';
import {
  correctionFields,
  factFields,
  generatedIdFor,
  type ImportRouteOptions,
  importRoute,
  ptceParamsSchema,
  WriteCatalog,
  type WriteContext,
  type WriteSideOptions,
  writeDeps,
  writeResultSchema,
  writeRoutes,
} from '@ptce/write-side';
import { z } from 'zod';

export const membershipTag: OpenApiTag = {
  name: 'membership',
  description:
    'The PTCE, its members and pilot, the shared legal entity and its associates, recognitions, and retractions of any record of the PTCE.',
};

/**
 * A member's name is the one field that may be personal data: a natural person's. The API says
 * how each kind is kept, so a secretary knows where a person's name must, and must not, go.
 */
const memberNameSchema = nameSchema.describe(
  "For a natural_person, the person's name: personal data, stored encrypted under a key of that person alone and made unreadable for good by an erasure. For any other category, the organisation's name, stored in clear and kept for ever: never a person's name (record a sole trader as a natural_person).",
);
const orgParams = ptceParamsSchema.extend({ organisationId: slugSchema });

// Examples come from the val-coop history (test/scenarios/val-coop.json) where it has the step.
const registerBody = withExamples(
  ptceRegisteredSchema.extend({
    pilot: ptceRegisteredSchema.shape.pilot.extend({ name: memberNameSchema }),
    ptceId: slugSchema
      .optional()
      .describe('left out: the server makes one from the name and a suffix, e.g. coop-val-x3k9a2b7c1'),
    ...factFields,
  }),
  [
    {
      ptceId: 'val-coop',
      name: 'Val de Sèvre Coopérations',
      territory: { name: 'Pays du Val (fictif)', department: '79', rural: true },
      pilot: {
        organisationId: 'asso-mobilite',
        name: 'Mobilité Solidaire du Val',
        category: 'ess_enterprise',
        legalStatus: 'private',
      },
      occurredAt: '2017-03-01',
      evidence: { source: 'compte rendu de la réunion de lancement' },
    },
  ],
);
const joinBody = withExamples(memberJoinedSchema.extend({ name: memberNameSchema, ...factFields }), [
  {
    organisationId: 'cc-val',
    name: 'Communauté de communes du Val',
    category: 'local_authority',
    occurredAt: '2017-06-15',
  },
  {
    organisationId: 'lycee-agricole',
    name: 'Lycée agricole du Val',
    category: 'training_body',
    legalStatus: 'public',
    occurredAt: '2018-01-01',
  },
]);
const departureBody = withExamples(z.strictObject({ reason: reasonSchema.optional(), ...factFields }), [
  {
    reason: "cessation d'activité de la boulangerie",
    occurredAt: '2022-06-30',
    evidence: { source: 'courrier de départ adressé au conseil de coopération' },
  },
]);
const membershipCorrectionBody = withExamples(
  z.strictObject({
    name: memberNameSchema.optional(),
    category: categorySchema.optional(),
    legalStatus: legalStatusSchema.optional(),
    joinedAt: validTimeSchema.optional(),
    ...correctionFields,
  }),
  [
    { joinedAt: '2018-01-10', reason: "date corrigée d'après la convention signée" },
    { name: 'Lycée agricole et horticole du Val', reason: "nouvelle dénomination de l'établissement" },
    { legalStatus: 'public', reason: 'établissement public local d’enseignement' },
  ],
);
const erasureBody = withExamples(
  z.strictObject({
    reason: reasonSchema.describe(
      `Why, in general terms (e.g. "demande d'effacement RGPD du 12/03/2026"). ${NOT_PERSONAL}`,
    ),
  }),
  [{ reason: "demande d'effacement RGPD reçue le 12 mars 2026" }],
);
const pilotBody = withExamples(z.strictObject({ organisationId: slugSchema, ...factFields }), [
  {
    organisationId: 'epicerie-coop',
    occurredAt: '2022-01-15',
    evidence: { source: 'procès-verbal du conseil de coopération du 15 janvier 2022' },
  },
]);
const legalEntityBody = withExamples(
  z.strictObject({
    name: nameSchema,
    legalForm: legalFormSchema,
    registrationId: registrationIdSchema.optional(),
    ...factFields,
  }),
  [
    {
      name: 'SCIC Val Coopérations',
      legalForm: 'scic',
      registrationId: '000000000',
      occurredAt: '2021-01-05',
    },
  ],
);
const legalEntityCorrectionBody = withExamples(
  z.strictObject({
    name: nameSchema.optional(),
    legalForm: legalFormSchema.optional(),
    registrationId: registrationIdSchema.optional(),
    registeredAt: validTimeSchema.optional(),
    ...correctionFields,
  }),
  [
    {
      registrationId: '901234567',
      registeredAt: '2021-01-12',
      reason: "SIREN et date d'immatriculation corrigés d'après l'avis de situation INSEE",
    },
  ],
);
const associateBody = withExamples(associateAdmittedSchema.extend(factFields), [
  { organisationId: 'asso-mobilite', college: 'producteurs', occurredAt: '2021-01-05' },
  { organisationId: 'cc-val', college: 'collectivites', occurredAt: '2021-01-05' },
]);
const withdrawalBody = withExamples(z.strictObject(factFields), [
  {
    occurredAt: '2023-06-30',
    evidence: { source: "lettre de retrait de l'associé, remboursement des parts" },
  },
]);
const recognitionBody = withExamples(recognitionGrantedSchema.extend(factFields), [
  { programme: 'AMI PTCE émergents — phase 1', grantor: 'État', occurredAt: '2021-09-15' },
  {
    programme: 'Appel à projets ESS du département',
    grantor: 'Conseil départemental (fictif)',
    amountEur: 25000,
    occurredAt: '2022-03-10',
  },
]);
const retractionBody = withExamples(
  z.strictObject({
    eventId: z.uuid().describe('the event to treat as never made'),
    ...correctionFields,
  }),
  [{ eventId: '0190c4e2-7b3a-7c1e-9f4d-2a6b8c0d1e3f', reason: 'adhésion saisie en double par erreur' }],
);

const resultExample = {
  eventIds: ['342eaa88-03e7-4c91-b26b-8a00e3a0fcc2'],
  position: '00000000000000000001',
  revision: 0,
  ptceId: 'val-coop',
};
const withPtce = withExamples(writeResultSchema.extend({ ptceId: slugSchema }), [resultExample]);
const withOrganisation = withExamples(withPtce.extend({ organisationId: slugSchema }), [
  { ...resultExample, position: '00000000000000000002', revision: 1, organisationId: 'cc-val' },
]);
const withEvent = withExamples(withPtce.extend({ retractedEventId: z.string() }), [
  {
    ...resultExample,
    eventIds: ['7d1f0b52-4c1e-4a8e-b0e9-5b8f3c2a6d14'],
    position: '00000000000000000058',
    revision: 31,
    retractedEventId: '0190c4e2-7b3a-7c1e-9f4d-2a6b8c0d1e3f',
  },
]);

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
 * The id of a PTCE registered without one: the slug of its name alone would make two PTCE of
 * near names ("Coop Val", "Coop-Val") collide, so it gets a suffix — derived from the
 * Idempotency-Key and the request when there is one, random otherwise (`generatedIdFor`). A
 * secretary whose token lists that very slug meant it: that one is kept as it is. Any other id
 * is still checked against the caller's scope before anything is written.
 */
function ptceIdFor(context: WriteContext, body: unknown, name: string): string {
  const slug = slugFrom(name);
  const { ptces } = context.principal;
  if (!ptces.includes('*') && ptces.includes(slug)) return slug;
  return generatedIdFor(slug, context, body);
}

/**
 * Membership: the PTCE itself, its members and pilot, the shared legal entity and its
 * associates, recognitions, and retractions of any record of the PTCE. Owns `membership-{ptceId}`.
 */
export interface MembershipOptions extends WriteSideOptions {
  /** The import route's limits (IMPORT_BODY_LIMIT, IMPORT_MAX_LINES) and where it forwards the lines other services write. */
  readonly imports: Omit<ImportRouteOptions, 'catalog' | 'tag' | 'example'>;
}

export const membershipService = zodPlugin<MembershipOptions>(async (app, options) => {
  const deps = writeDeps(options);
  // Mounted without a host's catalogue, the import still finds this service's own routes.
  const catalog = options.catalog ?? new WriteCatalog();
  const route = writeRoutes<MembershipCommand>(app, {
    family: 'membership',
    tag: membershipTag,
    deps,
    catalog,
    decide: decideMembership,
  });

  route({
    method: 'POST',
    url: '/v1/ptces',
    operationId: 'registerPtce',
    summary: 'Register a PTCE; its pilot organisation becomes its first member',
    description:
      "Starts the PTCE's history: its name, territory and pilot organisation, at the date it was founded. Left out, ptceId is made from the name; a retry with the same Idempotency-Key names the same PTCE.",
    body: registerBody,
    status: 201,
    result: withPtce,
    mayNamePerson: (body) => body.pilot.category === 'natural_person',
    ask: ({ body: { ptceId: given, ...body }, context }) => {
      const ptceId = given ?? ptceIdFor(context, body, body.name);
      return { ptceId, command: { type: 'RegisterPtce', ptceId, ...body } };
    },
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/members',
    operationId: 'recordMemberJoin',
    summary: 'Record that an organisation joined the PTCE',
    description:
      "The organisation is an active member from occurredAt on. A natural person's name is sealed under a key of that person alone.",
    params: ptceParamsSchema,
    body: joinBody,
    status: 201,
    result: withOrganisation,
    mayNamePerson: (body) => body.category === 'natural_person',
    ask: ({ params: { ptceId }, body }) => ({
      ptceId,
      command: { type: 'JoinMember', ...body },
      names: { organisationId: body.organisationId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/members/:organisationId/departure',
    operationId: 'recordMemberDeparture',
    summary:
      'Record that a member left the PTCE; its enrolments, associate status and carrying of activities end that day',
    description:
      'The member is no longer active from occurredAt. Rejoining later restores none of what the departure ended. The pilot cannot leave: hand the role over first.',
    params: orgParams,
    body: departureBody,
    status: 200,
    result: withOrganisation,
    ask: ({ params: { ptceId, organisationId }, body }) => ({
      ptceId,
      command: { type: 'LeaveMember', organisationId, ...body },
      names: { organisationId },
    }),
  });

  route({
    method: 'PATCH',
    url: '/v1/ptces/:ptceId/members/:organisationId',
    operationId: 'correctMembership',
    summary: 'Correct a membership record (name, category, legal status, join date)',
    description:
      'Fixes a wrong record without changing it: the correction is recorded with its reason and applies from now on in transaction time. Refused with 422 contradicts_history when recorded facts depend on what it changes.',
    params: orgParams,
    body: membershipCorrectionBody,
    status: 200,
    result: withOrganisation,
    // Whether the member is a natural person is the ledger's to say.
    mayNamePerson: (body) => body.name !== undefined,
    ask: ({ params: { ptceId, organisationId }, body: { reason, ...fields } }) => ({
      ptceId,
      command: { type: 'CorrectMembership', organisationId, fields, reason },
      names: { organisationId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/members/:organisationId/erasure',
    operationId: 'eraseMember',
    summary: "Erase a natural person's personal data (GDPR art. 17): their data key is destroyed",
    description:
      "Admin only. Destroys the person's data key, then records that it did: from then on the member reads as erased, without a name, while counts, stages and every hash chain stay as they were. Cannot be undone. 422 for an organisation that is not a natural person.",
    params: orgParams,
    body: erasureBody,
    status: 200,
    result: withOrganisation,
    roles: ['admin'],
    ask: ({ params: { ptceId, organisationId }, body }) => ({
      ptceId,
      command: { type: 'EraseMember', organisationId, reason: body.reason },
      names: { organisationId },
    }),
    // The key goes first: a crash before the event is recorded leaves the person unreadable and
    // the request to be sent again, never the person readable behind an event saying otherwise.
    before: async (asked) => {
      if (asked.command.type !== 'EraseMember') return;
      const loaded = await deps.ledgers.load(ptceStreams(asked.ptceId));
      try {
        decideMembership(asked.command, loaded.state, { now: (deps.now ?? Date.now)() });
      } catch (error) {
        // Already erased: destroyed again all the same (a key a backup restore brought back), then
        // a retry under its Idempotency-Key gets its first answer, any other request a 409.
        if (!(error instanceof DomainError && error.code === 'already_erased')) throw error;
      }
      await options.personalData.erase(personalSubject(asked.ptceId, asked.command.organisationId));
    },
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/pilot',
    operationId: 'handOverPilot',
    summary: 'Hand the pilot role over to another active member',
    description: 'Another active member becomes the pilot from occurredAt; the former pilot stays a member.',
    params: ptceParamsSchema,
    body: pilotBody,
    status: 200,
    result: withOrganisation,
    ask: ({ params: { ptceId }, body }) => ({
      ptceId,
      command: { type: 'HandOverPilot', ...body },
      names: { organisationId: body.organisationId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/legal-entity',
    operationId: 'registerLegalEntity',
    summary: 'Record the registration of the shared legal entity',
    description:
      "The PTCE's shared legal entity (its legal form and registration) exists from occurredAt; members then become associates of it one by one.",
    params: ptceParamsSchema,
    body: legalEntityBody,
    status: 201,
    result: withPtce,
    ask: ({ params: { ptceId }, body }) => ({ ptceId, command: { type: 'RegisterLegalEntity', ...body } }),
  });

  route({
    method: 'PATCH',
    url: '/v1/ptces/:ptceId/legal-entity',
    operationId: 'correctLegalEntity',
    summary: 'Correct the shared legal entity record',
    description:
      'Fixes the recorded legal entity (form, registration, date) with a reason, from now on in transaction time.',
    params: ptceParamsSchema,
    body: legalEntityCorrectionBody,
    status: 200,
    result: withPtce,
    ask: ({ params: { ptceId }, body: { reason, ...fields } }) => ({
      ptceId,
      command: { type: 'CorrectLegalEntity', fields, reason },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/legal-entity/associates',
    operationId: 'admitAssociate',
    summary: 'Record that an active member became an associate of the shared legal entity',
    description:
      'An active member holds a share of the shared legal entity from occurredAt; a departure from the PTCE ends it.',
    params: ptceParamsSchema,
    body: associateBody,
    status: 201,
    result: withOrganisation,
    ask: ({ params: { ptceId }, body }) => ({
      ptceId,
      command: { type: 'AdmitAssociate', ...body },
      names: { organisationId: body.organisationId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/legal-entity/associates/:organisationId/withdrawal',
    operationId: 'recordAssociateWithdrawal',
    summary: 'Record that an associate withdrew from the shared legal entity',
    description:
      'The associate no longer holds a share of the shared legal entity from occurredAt; it stays a member of the PTCE.',
    params: orgParams,
    body: withdrawalBody,
    status: 200,
    result: withOrganisation,
    ask: ({ params: { ptceId, organisationId }, body }) => ({
      ptceId,
      command: { type: 'WithdrawAssociate', organisationId, ...body },
      names: { organisationId },
    }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/recognitions',
    operationId: 'recordRecognition',
    summary: 'Record a recognition or funding granted to the PTCE',
    description:
      "A programme that recognised or funded the PTCE at occurredAt, its grantor and, when known, the amount: kept in the PTCE's state from then on.",
    params: ptceParamsSchema,
    body: recognitionBody,
    status: 201,
    result: withPtce,
    ask: ({ params: { ptceId }, body }) => ({ ptceId, command: { type: 'GrantRecognition', ...body } }),
  });

  route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/retractions',
    operationId: 'retractRecord',
    summary: 'Retract a record of this PTCE: treated as never made, from now on in transaction time',
    description:
      'Names a recorded event of the PTCE that should never have been recorded: every read as known from now on ignores it, reads as known before still see it. The registration, an erasure and a retraction cannot be retracted.',
    params: ptceParamsSchema,
    body: retractionBody,
    status: 200,
    result: withEvent,
    ask: ({ params: { ptceId }, body }) => ({
      ptceId,
      command: { type: 'RetractEvent', ...body },
      names: { retractedEventId: body.eventId },
    }),
  });

  // Imports belong to membership because a PTCE's history starts with its registration, and a
  // split deployment's membership process already knows the other services (UPSTREAMS).
  importRoute(app, {
    catalog,
    ...options.imports,
    tag: membershipTag,
    // A PTCE's first two facts, as the register and join routes document them.
    example: [
      { method: 'POST', path: '/v1/ptces', body: examplesOf(registerBody)[0] ?? {} },
      {
        method: 'POST',
        path: '/v1/ptces/val-coop/members',
        body: examplesOf(joinBody)[0] ?? {},
        idempotencyKey: 'registre-2017-ligne-2',
      },
    ],
  });
});
