import { z } from 'zod';
import { validTimeSchema } from '../valid-time.ts';
import {
  categorySchema,
  legalFormSchema,
  nameSchema,
  reasonSchema,
  catalogSlugSchema as slug,
} from './shared.ts';

export const ptceRegisteredSchema = z.strictObject({
  name: nameSchema,
  territory: z.strictObject({
    name: nameSchema,
    department: z.string().min(1).max(10).optional(),
    rural: z.boolean().optional(),
    priorityUrbanArea: z.boolean().optional(),
  }),
  pilot: z.strictObject({ organisationId: slug, name: nameSchema, category: categorySchema }),
});

export const memberJoinedSchema = z.strictObject({
  organisationId: slug,
  name: nameSchema,
  category: categorySchema,
});

export const memberLeftSchema = z.strictObject({ organisationId: slug, reason: reasonSchema.optional() });

/** Names the join (MemberJoined or PtceRegistered for the pilot) it corrects; `joinedAt` moves its valid time. */
export const membershipCorrectedSchema = z.strictObject({
  correctsEventId: z.string().min(1),
  organisationId: slug,
  fields: z.strictObject({
    name: nameSchema.optional(),
    category: categorySchema.optional(),
    joinedAt: validTimeSchema.optional(),
  }),
  reason: reasonSchema,
});

export const pilotHandedOverSchema = z.strictObject({ organisationId: slug, previousPilotId: slug });

export const legalEntityRegisteredSchema = z.strictObject({
  name: nameSchema,
  legalForm: legalFormSchema,
  registrationId: z.string().min(1).max(50).optional(),
});

/** Names the LegalEntityRegistered it corrects; `registeredAt` moves its valid time. */
export const legalEntityCorrectedSchema = z.strictObject({
  correctsEventId: z.string().min(1),
  fields: z.strictObject({
    name: nameSchema.optional(),
    legalForm: legalFormSchema.optional(),
    registrationId: z.string().min(1).max(50).optional(),
    registeredAt: validTimeSchema.optional(),
  }),
  reason: reasonSchema,
});

export const associateAdmittedSchema = z.strictObject({
  organisationId: slug,
  college: z.string().trim().min(1).max(100).optional(),
});

export const associateWithdrewSchema = z.strictObject({ organisationId: slug });

export const recognitionGrantedSchema = z.strictObject({
  programme: nameSchema,
  grantor: nameSchema,
  amountEur: z.number().nonnegative().optional(),
});

/** Any event of the PTCE, whatever its stream, is retracted through the membership stream. */
export const eventRetractedSchema = z.strictObject({
  retractedEventId: z.string().min(1),
  retractedType: z.string().min(1),
  reason: reasonSchema,
});
