import { createHash, randomBytes } from 'node:crypto';

export interface IdOrigin {
  readonly sub: string;
  readonly idempotencyKey?: string | undefined;
  /**
   * The fingerprint of the request (`requestFingerprint`): a key reused once expired, with another
   * body, must name another resource, not the one its first use created.
   */
  readonly fingerprint?: string | undefined;
}

/**
 * An id for a resource the client left unnamed: `{prefix}-` and 10 base36 characters. Under an
 * Idempotency-Key it is derived from the key, the caller and the request, because a retry after a crash is
 * answered from the events the first attempt stored, and that answer must name the same id.
 */
export function generatedId(prefix: string, origin: IdOrigin): string {
  const bytes =
    origin.idempotencyKey === undefined
      ? randomBytes(8)
      : createHash('sha256')
          .update(
            `${prefix}\u0000${origin.sub}\u0000${origin.idempotencyKey}${origin.fingerprint === undefined ? '' : `\u0000${origin.fingerprint}`}`,
            'utf8',
          )
          .digest()
          .subarray(0, 8);
  const suffix = BigInt(`0x${bytes.toString('hex')}`)
    .toString(36)
    .padStart(13, '0')
    .slice(-10);
  return `${prefix}-${suffix}`;
}
