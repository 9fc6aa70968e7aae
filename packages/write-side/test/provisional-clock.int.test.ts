import type { EventToAppend } from '@ptce/domain';
import { type EventStore, openEventStore } from '@ptce/event-store';
import { afterEach, beforeEach, expect, test } from 'vitest';
import {
  executeWrite,
  type Fold,
  LedgerRepository,
  PROVISIONAL_POSITION,
  type WriteCommand,
  type WriteDeps,
} from '../src/index.ts';
import { countedEvent } from './counted.ts';

/**
 * The recording instants a fold is given for events folded in before they are stored: the next
 * command queued on the PTCE is decided on them, dated so.
 */
interface Stamps {
  readonly provisional: readonly string[];
}
const stamps: Fold<Stamps> = {
  initial: () => ({ provisional: [] }),
  evolve: (state, event) =>
    event.position === PROVISIONAL_POSITION
      ? { provisional: [...state.provisional, event.recordedAt] }
      : state,
};

const STREAM = 'membership-p';
const T1 = Date.parse('2001-02-03T04:05:06Z');
const T2 = Date.parse('2002-03-04T05:06:07Z');
const iso = (t: number) => new Date(t).toISOString();
const named = (name: string): EventToAppend => ({
  type: 'Named' as EventToAppend['type'],
  data: { name },
  occurredAt: '2020-01-01',
});

let store: EventStore;
beforeEach(async () => {
  store = await openEventStore('sqlite::memory:');
});
afterEach(() => store.close());

test("a write dates its provisional events by the write deps' clock, not the wall clock", async () => {
  const deps: WriteDeps<Stamps> = {
    store,
    // Not reached: the command carries no Idempotency-Key.
    idempotency: undefined as unknown as WriteDeps<Stamps>['idempotency'],
    ledgers: new LedgerRepository(store, stamps),
    now: () => T1,
  };
  const command: WriteCommand<Stamps> = {
    ptceId: 'p',
    stream: STREAM,
    readStreams: [STREAM],
    recordedBy: 'alice',
    request: { method: 'POST', url: '/names', body: { name: 'ada' } },
    decide: () => [named('ada')],
    respond: () => ({ status: 201, body: {} }),
  };
  await executeWrite(deps, command);
  expect((await deps.ledgers.load([STREAM])).state.provisional).toEqual([iso(T1)]);
});

test('commands batched into one append each date their events by their own clock', async () => {
  let appends = 0;
  const counting: EventStore = {
    ...store,
    append: (s, events, o) => {
      appends++;
      return store.append(s, events, o);
    },
    readStream: (s, o) => store.readStream(s, o),
  };
  const repo = new LedgerRepository(counting, stamps);
  await Promise.all([
    repo.append(
      [STREAM],
      STREAM,
      () => [countedEvent(1, 'e1')],
      () => T1,
    ),
    repo.append(
      [STREAM],
      STREAM,
      () => [countedEvent(2, 'e2')],
      () => T2,
    ),
  ]);
  expect(appends).toBe(1);
  expect((await repo.load([STREAM])).state.provisional).toEqual([iso(T1), iso(T2)]);
});
