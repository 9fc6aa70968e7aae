import { z } from 'zod';
import type { Category } from './shared.ts';

/**
 * A personal field as the log stores it: AES-256-GCM ciphertext under a data key of its own
 * subject (one natural person of one PTCE). The hash chain covers these bytes, never the clear
 * text, so destroying the subject's key erases the person while every chain still verifies.
 */
export const sealedTextSchema = z.strictObject({
  sealed: z.literal('A256GCM'),
  /** Whose data key opens it: `{ptceId}/{organisationId}`. */
  subject: z.string().min(3).max(200),
  /** 96-bit nonce, base64url. */
  iv: z.string().regex(/^[A-Za-z0-9_-]{16}$/),
  /** Ciphertext followed by the 128-bit tag, base64url. */
  data: z.string().regex(/^[A-Za-z0-9_-]{22,}$/),
});
export type SealedText = z.infer<typeof sealedTextSchema>;

export const isSealedText = (value: unknown): value is SealedText =>
  typeof value === 'object' && value !== null && (value as { sealed?: unknown }).sealed === 'A256GCM';

/** The subject a natural person's data keys are filed under. */
export const personalSubject = (ptceId: string, organisationId: string): string =>
  `${ptceId}/${organisationId}`;

/**
 * Which fields of an event are personal when the organisation it names is a natural person: the
 * write side seals them before the event is stored. `category` reads the organisation's category
 * from the event when it carries one; otherwise the member's category as recorded decides.
 */
export interface PersonalFields {
  readonly organisationId: (data: Readonly<Record<string, unknown>>) => string;
  readonly category: (data: Readonly<Record<string, unknown>>) => Category | undefined;
  /** Paths into `data` of the personal fields. */
  readonly paths: readonly (readonly string[])[];
}

type Data = Readonly<Record<string, unknown>>;
/** The value at `path` in an event's data, undefined where the path leads nowhere. */
export const fieldAt = (data: Data, path: readonly string[]): unknown =>
  path.reduce<unknown>((value, key) => (value as Data | undefined)?.[key], data);

export const PERSONAL_FIELDS: Readonly<Record<string, PersonalFields>> = {
  PtceRegistered: {
    organisationId: (data) => fieldAt(data, ['pilot', 'organisationId']) as string,
    category: (data) => fieldAt(data, ['pilot', 'category']) as Category,
    paths: [['pilot', 'name']],
  },
  MemberJoined: {
    organisationId: (data) => data.organisationId as string,
    category: (data) => data.category as Category,
    paths: [['name']],
  },
  MembershipCorrected: {
    organisationId: (data) => data.organisationId as string,
    category: (data) => fieldAt(data, ['fields', 'category']) as Category | undefined,
    paths: [['fields', 'name']],
  },
};
