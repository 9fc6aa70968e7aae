import { type EventStore, type FoldableEvent, openEventStore } from '@ptce/event-store';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { type Fold, LedgerRepository } from '../src/index.ts';
import { countedEvent } from './counted.ts';

const list: Fold<readonly string[]> = {
  initial: () => [],
  evolve: (state, event: FoldableEvent) => [...state, String(event.data.n)],
};

const counted = countedEvent;

let store: EventStore;
beforeEach(async () => {
  store = await openEventStore('sqlite::memory:');
});
afterEach(() => store.close());

const fromStore = async (stream: string) => (await store.readStream(stream)).map((e) => String(e.data.n));

test('an append the store answers with events it already held leaves the cache as the store has it', async () => {
  const repo = new LedgerRepository(store, list);
  // A retry whose first attempt was stored although its caller was told it failed: same ids, same
  // content. The store answers with the events of the first attempt and appends nothing.
  const first = counted(0);
  const stored = await repo.append(['a'], 'a', () => [first]);
  const replayed = await repo.append(['a'], 'a', () => [first]);
  expect(replayed.events).toEqual(stored.events);
  expect(replayed.nextRevision).toBe(0);

  expect(await repo.load(['a'])).toEqual({ state: await fromStore('a'), revisions: { a: 0 } });
  // The next command expects the revision the stream really has.
  const next = await repo.append(['a'], 'a', () => [counted(1)]);
  expect(next.nextRevision).toBe(1);
  expect(await repo.load(['a'])).toEqual({ state: ['0', '1'], revisions: { a: 1 } });
});

test('a replay queued in a batch with new commands: each is answered, the cache matches the store', async () => {
  const repo = new LedgerRepository(store, list);
  const first = counted(0);
  await repo.append(['a'], 'a', () => [first]);
  const outcomes = await Promise.allSettled([
    repo.append(['a'], 'a', () => [counted(1)]),
    repo.append(['a'], 'a', () => [first]),
    repo.append(['a'], 'a', () => [counted(2)]),
  ]);
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  expect(await fromStore('a')).toEqual(['0', '1', '2']);
  expect(await repo.load(['a'])).toEqual({ state: ['0', '1', '2'], revisions: { a: 2 } });
});

test('a fold that fails to settle stored events still answers every command, and caches nothing wrong', async () => {
  const broken: Fold<readonly string[]> = {
    ...list,
    settle: () => {
      throw new Error('settle failed');
    },
  };
  const repo = new LedgerRepository(store, broken);
  const answered = Promise.allSettled([
    repo.append(['a'], 'a', () => [counted(0)]),
    repo.append(['a'], 'a', () => [counted(1)]),
  ]);
  const hung = new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 1_000));
  const outcomes = await Promise.race([answered, hung]);
  // The events are stored: their callers must be told so, not left waiting.
  expect(outcomes).not.toBe('hung');
  expect((outcomes as PromiseSettledResult<unknown>[]).map((o) => o.status)).toEqual([
    'fulfilled',
    'fulfilled',
  ]);
  expect(await repo.load(['a'])).toEqual({ state: ['0', '1'], revisions: { a: 1 } });
});

test('a command refused on the events of a predecessor the store then refused is decided again without them', async () => {
  const [taken] = (await store.append('a', [counted('taken')], { expectedRevision: 'no_stream' })).events;
  const repo = new LedgerRepository(store, list);
  await repo.load(['a']);
  // Its id is taken by another event: the store refuses it, alone or in a batch.
  const clashing = () => [{ ...counted('clash'), eventId: taken!.eventId }];
  // Refuses while the clashing event is there, as a decider refuses a second join.
  const unlessClash = ({ state }: { state: readonly string[] }) => {
    if (state.includes('clash')) throw new Error('refused: clash is there');
    return [counted('after')];
  };
  const outcomes = await Promise.allSettled([
    repo.append(['a'], 'a', clashing),
    repo.append(['a'], 'a', unlessClash),
  ]);
  expect(outcomes[0]).toMatchObject({ status: 'rejected', reason: { name: 'DuplicateEventIdError' } });
  // One by one, the second would have been decided on a stream without the clash.
  expect(outcomes[1]?.status).toBe('fulfilled');
  expect(await fromStore('a')).toEqual(['taken', 'after']);
  expect(await repo.load(['a'])).toEqual({ state: ['taken', 'after'], revisions: { a: 1 } });
});

test('in a failed batch of several, a refusal decided on unstored events is decided again in its place', async () => {
  const [taken] = (await store.append('a', [counted('taken')], { expectedRevision: 'no_stream' })).events;
  const repo = new LedgerRepository(store, list);
  await repo.load(['a']);
  const order: string[] = [];
  const named =
    (n: string) =>
    ({ state }: { state: readonly string[] }) => {
      order.push(n);
      if (n === 'after' && state.includes('clash')) throw new Error('refused: clash is there');
      return [n === 'clash' ? { ...counted(n), eventId: taken!.eventId } : counted(n)];
    };
  const outcomes = await Promise.allSettled([
    repo.append(['a'], 'a', named('first')),
    repo.append(['a'], 'a', named('clash')),
    repo.append(['a'], 'a', named('after')),
    repo.append(['a'], 'a', named('last')),
  ]);
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
  expect(await fromStore('a')).toEqual(['taken', 'first', 'after', 'last']);
  // Decided together, then each again alone in the order they came.
  expect(order).toEqual(['first', 'clash', 'after', 'last', 'first', 'clash', 'after', 'last']);
});

test("a run after a failed one is never stored, even when another writer moved the failed run's stream as far", async () => {
  const repo = new LedgerRepository(store, list);
  const streams = ['a', 'b'];
  await repo.append(streams, 'a', () => [counted('a0')]);
  const seen: string[] = [];
  const first = repo.append(streams, 'a', () => [counted('cmd1')]);
  const second = repo.append(streams, 'b', ({ state }) => {
    seen.push(state.join(','));
    return [counted('cmd2')];
  });
  // Another writer of `a` whose append lands in the same transaction, before the batch's: cmd1's
  // run fails, and `a` then stands where cmd2's run expects it.
  const rival = store.append('a', [counted('rival')], { expectedRevision: 'any' });
  const outcomes = await Promise.allSettled([first, second, rival]);
  expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
  // Each goes again alone on the state as stored: cmd1 after the rival, cmd2 after cmd1 — and
  // cmd2's first decision, made on a cmd1 that was not stored then, is stored nowhere.
  expect(seen).toEqual(['a0,cmd1', 'a0,rival,cmd1']);
  expect(await fromStore('a')).toEqual(['a0', 'rival', 'cmd1']);
  expect(await fromStore('b')).toEqual(['cmd2']);
  expect(await repo.load(streams)).toEqual({
    state: ['a0', 'rival', 'cmd1', 'cmd2'],
    revisions: { a: 2, b: 0 },
  });
});
