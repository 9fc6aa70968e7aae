import { z } from 'zod';
import { validTimeSchema } from '../valid-time.ts';
import { sealedTextSchema } from './personal.ts';
import {
  categorySchema,
  eventRefSchema,
  externalIdSchema,
  labelSchema,
  legalFormSchema,
  legalStatusSchema,
  nameSchema,
  reasonSchema,
  registrationIdSchema,
  catalogSlugSchema as slug,
} from './shared.ts';

/** A name that is personal data when it names a natural person: stored sealed then. */
const storedNameSchema = z.union([nameSchema, sealedTextSchema]);

export const ptceRegisteredSchema = z.strictObject({
  name: nameSchema,
  territory: z.strictObject({
    name: nameSchema,
    department: externalIdSchema(10).optional(),
    rural: z.boolean().optional(),
    priorityUrbanArea: z.boolean().optional(),
  }),
  pilot: z.strictObject({
    organisationId: slug,
    name: nameSchema,
    category: categorySchema,
    legalStatus: legalStatusSchema.optional(),
  }),
});

export const memberJoinedSchema = z.strictObject({
  organisationId: slug,
  name: nameSchema,
  category: categorySchema,
  legalStatus: legalStatusSchema.optional(),
});

/** What is sent is clear text; what is stored is sealed for a natural person (see PERSONAL_FIELDS). */
export const storedPtceRegisteredSchema = ptceRegisteredSchema.extend({
  pilot: ptceRegisteredSchema.shape.pilot.extend({ name: storedNameSchema }),
});
export const storedMemberJoinedSchema = memberJoinedSchema.extend({ name: storedNameSchema });

export const memberLeftSchema = z.strictObject({ organisationId: slug, reason: reasonSchema.optional() });

/** Names the join (MemberJoined or PtceRegistered for the pilot) it corrects; `joinedAt` moves its valid time. */
export const membershipCorrectedSchema = z.strictObject({
  correctsEventId: eventRefSchema,
  organisationId: slug,
  fields: z.strictObject({
    name: storedNameSchema.optional(),
    category: categorySchema.optional(),
    legalStatus: legalStatusSchema.optional(),
    joinedAt: validTimeSchema.optional(),
  }),
  reason: reasonSchema,
});

export const pilotHandedOverSchema = z.strictObject({ organisationId: slug, previousPilotId: slug });

export const legalEntityRegisteredSchema = z.strictObject({
  name: nameSchema,
  legalForm: legalFormSchema,
  registrationId: registrationIdSchema.optional(),
});

/** Names the LegalEntityRegistered it corrects; `registeredAt` moves its valid time. */
export const legalEntityCorrectedSchema = z.strictObject({
  correctsEventId: eventRefSchema,
  fields: z.strictObject({
    name: nameSchema.optional(),
    legalForm: legalFormSchema.optional(),
    registrationId: registrationIdSchema.optional(),
    registeredAt: validTimeSchema.optional(),
  }),
  reason: reasonSchema,
});

export const associateAdmittedSchema = z.strictObject({
  organisationId: slug,
  college: labelSchema.optional(),
});

export const associateWithdrewSchema = z.strictObject({ organisationId: slug });

export const recognitionGrantedSchema = z.strictObject({
  programme: nameSchema,
  grantor: nameSchema,
  amountEur: z.number().nonnegative().optional(),
});

/**
 * A natural person's data key was destroyed: what the log holds of them can no longer be read.
 * Nothing personal here either: the reason says why in general terms (a GDPR request, a date).
 */
export const personalDataErasedSchema = z.strictObject({ organisationId: slug, reason: reasonSchema });

/** Any event of the PTCE, whatever its stream, is retracted through the membership stream. */
export const eventRetractedSchema = z.strictObject({
  retractedEventId: eventRefSchema,
  retractedType: eventRefSchema,
  reason: reasonSchema,
});
