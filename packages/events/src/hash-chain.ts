import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.ts';
import type { EventEnvelope } from './envelope.ts';

/** prevHash of a stream's revision 0. */
export const GENESIS_HASH = '0'.repeat(64);

export type HashableEnvelope = Omit<EventEnvelope, 'hash' | 'position'> & {
  readonly hash?: string;
  readonly position?: string;
};

/**
 * SHA-256 over the canonical JSON of the envelope without `hash` and `position`: the position
 * is excluded because some stores only know it after the write, and it is not part of the fact.
 */
export function computeEventHash(envelope: HashableEnvelope): string {
  const { hash: _hash, position: _position, ...rest } = envelope;
  return createHash('sha256').update(canonicalJson(rest), 'utf8').digest('hex');
}

export type ChainBreakReason = 'prevHash' | 'hash' | 'revision';

export type ChainVerification =
  | { readonly ok: true }
  | {
      readonly ok: false;
      readonly brokenAt: {
        readonly eventId: string;
        readonly position: string;
        readonly expected: string;
        readonly actual: string;
        readonly reason: ChainBreakReason;
      };
    };

/**
 * Verifies each stream's chain in the order the events are given (a stream read, or the whole
 * log: streams are interleaved and checked independently). A stream whose first given event is
 * not revision 0 is verified from that event on, trusting its prevHash.
 */
export function verifyChain(events: Iterable<EventEnvelope>): ChainVerification {
  const heads = new Map<string, { revision: number; hash: string }>();
  for (const event of events) {
    const head = heads.get(event.stream);
    if (head !== undefined && event.revision !== head.revision + 1) {
      return broken(event, String(head.revision + 1), String(event.revision), 'revision');
    }
    const expectedPrev = head?.hash ?? (event.revision === 0 ? GENESIS_HASH : event.prevHash);
    if (event.prevHash !== expectedPrev) return broken(event, expectedPrev, event.prevHash, 'prevHash');
    const recomputed = computeEventHash(event);
    if (recomputed !== event.hash) return broken(event, recomputed, event.hash, 'hash');
    heads.set(event.stream, { revision: event.revision, hash: event.hash });
  }
  return { ok: true };
}

function broken(
  event: EventEnvelope,
  expected: string,
  actual: string,
  reason: ChainBreakReason,
): ChainVerification {
  return {
    ok: false,
    brokenAt: { eventId: event.eventId, position: event.position, expected, actual, reason },
  };
}
