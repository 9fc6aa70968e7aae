import { z } from 'zod';

/** The headers a write may carry; others pass through untouched. */
export const writeHeadersSchema = z
  .object({
    'idempotency-key': z.string().min(1).max(200).optional(),
    'if-match': z
      .string()
      .regex(/^(W\/)?"\d+"$/, 'a revision returned earlier as ETag, e.g. "3"')
      .optional(),
  })
  .loose();

/** Set on a write's answer given again under its Idempotency-Key: nothing was recorded this time. */
export const REPLAYED_HEADER = 'idempotent-replayed';
