import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '../src/envelope.ts';
import { computeEventHash, GENESIS_HASH, verifyChain } from '../src/hash-chain.ts';

function chain(stream: string, count: number, firstPosition = 0): EventEnvelope[] {
  const out: EventEnvelope[] = [];
  let prevHash = GENESIS_HASH;
  for (let revision = 0; revision < count; revision++) {
    const base = {
      eventId: `00000000-0000-4000-8000-${String(revision).padStart(12, '0')}`,
      type: 'MemberJoined',
      schemaVersion: 1,
      ptceId: 'val-coop',
      occurredAt: '2024-01-15',
      recordedBy: 'secretary',
      data: { n: revision, name: 'Coopérative 中文' },
      stream,
      revision,
      recordedAt: '2024-01-15T10:00:00.000Z',
      prevHash,
    };
    const hash = computeEventHash(base);
    out.push({ ...base, hash, position: String(firstPosition + revision).padStart(20, '0') });
    prevHash = hash;
  }
  return out;
}

describe('hash chain', () => {
  it('hashes without hash and position, deterministically', () => {
    const [event] = chain('s', 1);
    expect(event!.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(computeEventHash({ ...event!, position: '99', hash: 'x' })).toBe(event!.hash);
    expect(computeEventHash({ ...event!, data: { n: 1 } })).not.toBe(event!.hash);
  });

  it('verifies interleaved streams', () => {
    const a = chain('a', 3);
    const b = chain('b', 3, 10);
    expect(verifyChain([a[0]!, b[0]!, a[1]!, b[1]!, b[2]!, a[2]!])).toEqual({ ok: true });
    expect(verifyChain([])).toEqual({ ok: true });
  });

  it('reports a tampered payload at the event', () => {
    const events = chain('a', 3);
    const tampered = { ...events[1]!, data: { n: 42 } };
    const result = verifyChain([events[0]!, tampered, events[2]!]);
    expect(result).toMatchObject({
      ok: false,
      brokenAt: {
        eventId: tampered.eventId,
        position: tampered.position,
        actual: tampered.hash,
        reason: 'hash',
      },
    });
  });

  it('reports a broken link and a wrong genesis', () => {
    const events = chain('a', 3);
    const relinked = { ...events[2]!, prevHash: GENESIS_HASH };
    expect(verifyChain([events[0]!, events[1]!, relinked])).toMatchObject({
      ok: false,
      brokenAt: {
        eventId: relinked.eventId,
        expected: events[1]!.hash,
        actual: GENESIS_HASH,
        reason: 'prevHash',
      },
    });
    const badGenesis = { ...events[0]!, prevHash: 'f'.repeat(64) };
    expect(verifyChain([badGenesis])).toMatchObject({ ok: false, brokenAt: { reason: 'prevHash' } });
  });

  it('reports a missing revision', () => {
    const events = chain('a', 3);
    expect(verifyChain([events[0]!, events[2]!])).toMatchObject({
      ok: false,
      brokenAt: { eventId: events[2]!.eventId, expected: '1', actual: '2', reason: 'revision' },
    });
  });
});
