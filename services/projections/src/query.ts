import { validTimeSchema } from '@ptce/events';
import { DEFAULT_WINDOW_MONTHS, MAX_WINDOW_MONTHS } from '@ptce/projections';
import { z } from 'zod';

/*
 * The two times of every read.
 *
 * - `asOf` is valid time: the state of the PTCE as it was at that moment in the world. A date
 *   `YYYY-MM-DD` means the end of that Europe/Paris day (everything that happened that day
 *   counts), an ISO-8601 instant with an offset means that instant. Default: now.
 * - `knownAt` is transaction time: what the ledger had been told by then. It keeps the longest
 *   prefix of the log, in position order, whose events were all recorded at or before it (a date
 *   again means the end of that Paris day); corrections and retractions count only when they are
 *   in that prefix. Default: now, i.e. the whole log.
 * - `atPosition` replaces `knownAt`: the events at or before a position an earlier answer gave,
 *   so that answer can be had again, unchanged, however many writes followed. Giving both is an
 *   error, not a precedence rule the caller would have to guess.
 *
 * - `minPosition` (read-your-writes): the `position` a write to this PTCE answered. The read must
 *   contain it: when the prefix it is computed on ends before it — a knownAt or atPosition earlier
 *   than the write, or a store not caught up with it (another replica) even after one more read —
 *   the answer is 409 `position_not_reached` naming both positions, never an answer without it.
 *
 * Every answer says the `position` of the last event of the prefix it was computed on.
 */

/** Positions are opaque but printable and short: anything else is not one we gave. */
const positionSchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,100}$/, { message: 'expected a position from an earlier answer' })
  .describe('a position from an earlier answer: the log up to it, whatever was recorded since');

const readQueryFields = {
  asOf: validTimeSchema
    .optional()
    .describe('valid time: a date (the end of that Europe/Paris day) or an ISO-8601 instant; default now'),
  knownAt: validTimeSchema
    .optional()
    .describe(
      'transaction time: what had been recorded by then (a date: the end of that Paris day); default now',
    ),
  atPosition: positionSchema.optional(),
  minPosition: positionSchema
    .optional()
    .describe(
      'read-your-writes: the position a write answered; the read is 409 position_not_reached unless its prefix reaches it',
    ),
};

/** knownAt or atPosition, never both: the refusal names atPosition. */
function oneTransactionTime(
  query: { knownAt?: string | undefined; atPosition?: string | undefined },
  ctx: z.RefinementCtx,
) {
  if (query.knownAt !== undefined && query.atPosition !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['atPosition'], message: 'give knownAt or atPosition, not both' });
  }
}

export const readQuerySchema = z.object(readQueryFields).superRefine(oneTransactionTime);

/** The participation also takes the length of its window, in months, ending at asOf. */
export const participationQuerySchema = z
  .object({
    ...readQueryFields,
    windowMonths: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_WINDOW_MONTHS)
      .default(DEFAULT_WINDOW_MONTHS)
      .describe(
        `months of the window ending at asOf (1–${MAX_WINDOW_MONTHS}, default ${DEFAULT_WINDOW_MONTHS})`,
      ),
  })
  .superRefine(oneTransactionTime);

/** The timeline has no valid time of its own: it is every day of the history. */
export const timelineQuerySchema = z
  .object({
    knownAt: readQueryFields.knownAt,
    atPosition: readQueryFields.atPosition,
    minPosition: readQueryFields.minPosition,
  })
  .superRefine(oneTransactionTime);

/** The list reads now; it takes only minPosition (a write to one of the PTCE in scope). */
export const listQuerySchema = z.object({ minPosition: readQueryFields.minPosition });

export type ReadQuery = z.infer<typeof readQuerySchema>;

/** The instant `now` as an ISO-8601 valid time. */
export const instant = (ms: number): string => new Date(ms).toISOString();
