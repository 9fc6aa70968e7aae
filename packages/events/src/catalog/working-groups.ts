import { z } from 'zod';
import { lineTextSchema } from '../text.ts';
import { validTimeSchema } from '../valid-time.ts';
import {
  eventRefSchema,
  labelSchema,
  nameSchema,
  organisationListSchema,
  reasonSchema,
  sha256Schema,
  catalogSlugSchema as slug,
  spaceKindSchema,
  spaceRoleSchema,
  spaceRulesSchema,
} from './shared.ts';

const orgList = organisationListSchema.min(1).max(500);

export const spaceOpenedSchema = z.strictObject({
  spaceId: slug,
  kind: spaceKindSchema,
  name: nameSchema,
  themes: z.array(labelSchema).max(50).optional(),
  rules: spaceRulesSchema,
});

export const memberEnrolledSchema = z.strictObject({
  spaceId: slug,
  organisationId: slug,
  role: spaceRoleSchema,
});

export const memberWithdrawnFromSpaceSchema = z.strictObject({ spaceId: slug, organisationId: slug });

export const minutesSchema = z.strictObject({ sha256: sha256Schema, uri: lineTextSchema.url().optional() });

export const meetingHeldSchema = z.strictObject({
  spaceId: slug,
  meetingId: slug,
  attendees: orgList,
  guests: z.number().int().min(0).optional(),
  minutes: minutesSchema.optional(),
});

export const meetingCorrectedSchema = z.strictObject({
  correctsEventId: eventRefSchema,
  spaceId: slug,
  meetingId: slug,
  fields: z.strictObject({ attendees: orgList.optional(), heldAt: validTimeSchema.optional() }),
  reason: reasonSchema,
});

/**
 * The space decides by new rules from the event's valid time on. The rules in force at a date are
 * those of the latest change at or before it, else the rules the space opened with.
 */
export const spaceRulesChangedSchema = z.strictObject({
  spaceId: slug,
  rules: spaceRulesSchema,
  reason: reasonSchema.optional(),
});

export const spaceClosedSchema = z.strictObject({ spaceId: slug });

export const activityLaunchedSchema = z.strictObject({
  activityId: slug,
  name: nameSchema,
  theme: labelSchema.optional(),
  carriers: orgList,
  spaceId: slug.optional(),
});

export const carrierJoinedSchema = z.strictObject({ activityId: slug, organisationId: slug });

export const activityEndedSchema = z.strictObject({ activityId: slug, reason: reasonSchema.optional() });
