import { createHash, randomUUID } from 'node:crypto';
import { z } from 'zod';

/** Identifiers that travel in URLs and stream names: lowercase, no leading hyphen, ≤ 63 chars. */
export const slugSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lowercase letters, digits and hyphens');
export type Slug = z.infer<typeof slugSchema>;

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i;

export const eventIdSchema = z.string().regex(UUID_PATTERN, 'a UUID');
export type EventId = z.infer<typeof eventIdSchema>;

export function newEventId(): string {
  return randomUUID();
}

/**
 * UUID v5 (RFC 9562 §5.5): a retry carrying the same Idempotency-Key must produce the same event
 * ids, so the store's idempotency on event ids turns the retry into a no-op. A UUID namespace is
 * used as its 16 bytes (standard v5); any other string as its UTF-8 byte length (4 bytes, big
 * endian) then its bytes, so no (namespace, name) split can collide with another.
 */
export function deterministicEventId(namespace: string, name: string): string {
  const ns = UUID_PATTERN.test(namespace)
    ? Buffer.from(namespace.replaceAll('-', ''), 'hex')
    : lengthPrefixed(namespace);
  const bytes = createHash('sha1').update(ns).update(name, 'utf8').digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}
