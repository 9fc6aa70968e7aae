import { randomUUID } from 'node:crypto';
import { type EventStore, openEventStore } from '@ptce/event-store';
import { type NewEvent, streamName } from '@ptce/events';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { headsAt } from '../src/checkpoints.ts';

let store: EventStore;

const joined = (i: number): NewEvent => ({
  eventId: randomUUID(),
  type: 'MemberJoined',
  schemaVersion: 1,
  ptceId: 'p1',
  occurredAt: '2020-02-01',
  recordedBy: 'heads-test',
  data: { organisationId: `org-${i}`, name: `Org ${i}`, category: 'enterprise' },
});

beforeAll(async () => {
  store = await openEventStore('sqlite::memory:');
  // Longer than a page of the backwards read, with another stream's events in between.
  for (let i = 0; i < 150; i++) {
    await store.append(streamName('membership', 'p1'), [joined(i)], { expectedRevision: 'any' });
    if (i % 50 === 0) {
      await store.append(streamName('decisions', 'p1'), [joined(1000 + i)], { expectedRevision: 'any' });
    }
  }
});
afterAll(() => store.close());

test("each stream's last event at or before the position, however far back", async () => {
  const membership = await store.readStream(streamName('membership', 'p1'));
  const decisions = await store.readStream(streamName('decisions', 'p1'));
  for (const at of [membership[0]!, membership[20]!, membership[120]!, membership.at(-1)!]) {
    const heads = await headsAt(store, 'p1', at.position);
    const decision = decisions.filter((e) => e.position <= at.position).at(-1);
    expect(heads).toEqual([
      { stream: at.stream, revision: at.revision, hash: at.hash },
      ...(decision ? [{ stream: decision.stream, revision: decision.revision, hash: decision.hash }] : []),
    ]);
  }
});

test('no head for a position before every event', async () => {
  expect(await headsAt(store, 'p1', '00000000000000000000')).toEqual([]);
});
