import { type EventStore, type FoldableEvent, openEventStore } from '@ptce/event-store';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { DEFAULT_MAX_CACHED_EVENTS, type Fold, LedgerRepository } from '../src/index.ts';
import { countedEvent } from './counted.ts';
import { forwardingStore } from './forwarding-store.ts';

/** The real store, counting what readStream hands back. */
function counting(store: EventStore) {
  const counts = { calls: 0, events: 0 };
  const wrapped = forwardingStore(store, {
    readStream: async (s, o) => {
      counts.calls++;
      const page = await store.readStream(s, o);
      counts.events += page.length;
      return page;
    },
  });
  return { wrapped, counts };
}

/** Records every event evolved, so a double fold shows. */
function list(): Fold<readonly string[]> & { evolved: number } {
  const fold = {
    evolved: 0,
    initial: (): readonly string[] => [],
    evolve: (state: readonly string[], event: FoldableEvent): readonly string[] => {
      fold.evolved++;
      return [...state, String(event.data.n)];
    },
  };
  return fold;
}

let store: EventStore;
beforeEach(async () => {
  store = await openEventStore('sqlite::memory:');
});
afterEach(() => store.close());

async function put(stream: string, ...ns: number[]): Promise<void> {
  await store.append(
    stream,
    ns.map((n) => countedEvent(n)),
    { expectedRevision: 'any' },
  );
}

describe('LedgerRepository', () => {
  test('a second load reads and folds only the events appended since the first', async () => {
    const { wrapped, counts } = counting(store);
    const fold = list();
    const repo = new LedgerRepository(wrapped, fold);
    await put('a', 1, 2, 3);
    const first = await repo.load(['a']);
    expect(first).toEqual({ state: ['1', '2', '3'], revisions: { a: 2 } });
    expect(counts.events).toBe(3);
    expect(fold.evolved).toBe(3);

    await put('a', 4);
    const second = await repo.load(['a']);
    expect(second).toEqual({ state: ['1', '2', '3', '4'], revisions: { a: 3 } });
    expect(counts.events).toBe(4);
    expect(fold.evolved).toBe(4);

    const third = await repo.load(['a']);
    expect(third.state).toEqual(second.state);
    expect(counts.events).toBe(4);
    expect(fold.evolved).toBe(4);
  });

  test('concurrent loads of the same streams fold each event once', async () => {
    const fold = list();
    const repo = new LedgerRepository(store, fold);
    await put('a', 1, 2, 3, 4, 5);
    const loads = await Promise.all(Array.from({ length: 8 }, () => repo.load(['a'])));
    for (const loaded of loads) expect(loaded.state).toEqual(['1', '2', '3', '4', '5']);
    expect(fold.evolved).toBe(5);
  });

  test('several streams are merged in log order; a missing stream stands at null', async () => {
    const repo = new LedgerRepository(store, list());
    await put('a', 1);
    await put('b', 2);
    await put('a', 3);
    await put('b', 4);
    expect(await repo.load(['a', 'b', 'c'])).toEqual({
      state: ['1', '2', '3', '4'],
      revisions: { a: 1, b: 1, c: null },
    });
  });

  test('a long stream is read page by page', async () => {
    const { wrapped, counts } = counting(store);
    const repo = new LedgerRepository(wrapped, list(), { pageSize: 2 });
    await put('a', 1, 2, 3, 4, 5);
    expect((await repo.load(['a'])).state).toEqual(['1', '2', '3', '4', '5']);
    expect(counts.calls).toBe(3);
  });

  test('a failed read caches nothing; the next load folds from where the cache stood', async () => {
    const fold = list();
    let failing = false;
    const { wrapped } = counting(store);
    const flaky: EventStore = {
      ...wrapped,
      readStream: (s, o) => (failing ? Promise.reject(new Error('down')) : store.readStream(s, o)),
    };
    const repo = new LedgerRepository(flaky, fold);
    await put('a', 1);
    await repo.load(['a']);
    await put('a', 2);
    failing = true;
    await expect(repo.load(['a'])).rejects.toThrow('down');
    failing = false;
    expect((await repo.load(['a'])).state).toEqual(['1', '2']);
    expect(fold.evolved).toBe(2);
  });

  test('beyond maxEntries the least recently used fold is dropped and rebuilt', async () => {
    const fold = list();
    const repo = new LedgerRepository(store, fold, { maxEntries: 1 });
    await put('a', 1);
    await put('b', 2);
    await repo.load(['a']);
    await repo.load(['b']);
    expect((await repo.load(['a'])).state).toEqual(['1']);
    expect(fold.evolved).toBe(3);
    repo.evict(['a']);
    await repo.load(['a']);
    expect(fold.evolved).toBe(4);
  });

  test('beyond maxEvents the least recently used folds are dropped, never the one just used', async () => {
    const fold = Object.assign(list(), { size: (state: readonly string[]) => state.length });
    const repo = new LedgerRepository(store, fold, { maxEvents: 4 });
    await put('a', 1, 2);
    await put('b', 3, 4);
    await put('c', 5, 6, 7, 8, 9);
    await repo.load(['a']);
    await repo.load(['b']);
    // a and b fit (4 events); c alone is over the budget, kept since it is the one in use.
    fold.evolved = 0;
    await repo.load(['a']);
    await repo.load(['b']);
    expect(fold.evolved).toBe(0);
    await repo.load(['c']);
    expect(fold.evolved).toBe(5);
    await repo.load(['c']);
    expect(fold.evolved).toBe(5);
    await repo.load(['a']);
    await repo.load(['b']);
    expect(fold.evolved).toBe(9);
  });

  test('without maxEvents the folds are bounded all the same (DEFAULT_MAX_CACHED_EVENTS)', async () => {
    // Each fold weighs half the default budget, plus one: two never fit together.
    const fold = Object.assign(list(), { size: () => DEFAULT_MAX_CACHED_EVENTS / 2 + 1 });
    const repo = new LedgerRepository(store, fold);
    await put('a', 1);
    await put('b', 2);
    await repo.load(['a']);
    await repo.load(['b']);
    fold.evolved = 0;
    await repo.load(['b']);
    expect(fold.evolved).toBe(0);
    await repo.load(['a']);
    expect(fold.evolved).toBe(1);
  });
});

describe('LedgerRepository.append: commands queued on one PTCE', () => {
  /** A command appending one event that says how many it found before it. */
  const counted = () => (loaded: { state: readonly string[] }) => [countedEvent(loaded.state.length)];

  function appendsCounted(inner: EventStore) {
    const calls: number[] = [];
    const wrapped: EventStore = {
      ...counting(inner).wrapped,
      append: (s, e, o) => {
        calls.push(e.length);
        return inner.append(s, e, o);
      },
    };
    return { wrapped, calls };
  }

  /** The store, where another process appends 100 to `stream` just before our first append. */
  function intrudedOnce(stream: string) {
    const { wrapped, calls } = appendsCounted(store);
    let intruded = false;
    const racing: EventStore = {
      ...wrapped,
      append: async (s, e, o) => {
        if (!intruded) {
          intruded = true;
          await put(stream, 100);
        }
        return wrapped.append(s, e, o);
      },
    };
    return { racing, calls };
  }

  test('are each decided on their predecessors’ events and written in one append', async () => {
    const { wrapped, calls } = appendsCounted(store);
    const repo = new LedgerRepository(wrapped, list());
    const results = await Promise.all(Array.from({ length: 5 }, () => repo.append(['a'], 'a', counted())));
    expect(calls).toEqual([5]);
    expect(results.map((r) => r.nextRevision)).toEqual([0, 1, 2, 3, 4]);
    expect(results.map((r) => r.events.map((e) => e.data.n))).toEqual([[0], [1], [2], [3], [4]]);
    // Each answer carries its own events as stored, with their own positions.
    expect(new Set(results.map((r) => r.position)).size).toBe(5);
    expect((await store.readStream('a')).map((e) => e.data.n)).toEqual([0, 1, 2, 3, 4]);
    expect((await repo.load(['a'])).state).toEqual(['0', '1', '2', '3', '4']);
  });

  test('a refusal rejects its own command; the next is decided as if it had not been sent', async () => {
    const repo = new LedgerRepository(store, list());
    const refusal = new Error('refused');
    const outcomes = await Promise.allSettled([
      repo.append(['a'], 'a', counted()),
      repo.append(['a'], 'a', () => {
        throw refusal;
      }),
      repo.append(['a'], 'a', counted()),
    ]);
    expect(outcomes[1]).toEqual({ status: 'rejected', reason: refusal });
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(2);
    expect((await store.readStream('a')).map((e) => e.data.n)).toEqual([0, 1]);
  });

  test('a command that fails in a batch fails alone: the others are appended on their own', async () => {
    await put('a', 0);
    const [stored] = await store.readStream('a');
    const { wrapped, calls } = appendsCounted(store);
    const repo = new LedgerRepository(wrapped, list());
    await repo.load(['a']);
    const duplicate = () => [{ ...stored!, data: { n: 'again' } }];
    const outcomes = await Promise.allSettled([
      repo.append(['a'], 'a', counted()),
      repo.append(['a'], 'a', duplicate),
      repo.append(['a'], 'a', counted()),
    ]);
    expect(outcomes[0]?.status).toBe('fulfilled');
    expect(outcomes[1]).toMatchObject({ status: 'rejected', reason: { name: 'DuplicateEventIdError' } });
    expect(outcomes[2]?.status).toBe('fulfilled');
    // The batch of three, then each again on its own.
    expect(calls).toEqual([3, 1, 1, 1]);
    expect((await store.readStream('a')).map((e) => e.data.n)).toEqual([0, 1, 2]);
    expect((await repo.load(['a'])).state).toEqual(['0', '1', '2']);
  });

  test('a batch that meets another writer’s event is decided again on the state as stored', async () => {
    const { racing, calls } = intrudedOnce('a');
    const repo = new LedgerRepository(racing, list());
    const results = await Promise.all([
      repo.append(['a'], 'a', counted()),
      repo.append(['a'], 'a', counted()),
    ]);
    expect(calls).toEqual([2, 1, 1]);
    expect(results.map((r) => r.events[0]?.data.n)).toEqual([1, 2]);
    expect((await repo.load(['a'])).state).toEqual(['100', '1', '2']);
  });

  test('an event another writer appends to a stream read but not written makes the command decide again', async () => {
    const { racing, calls } = intrudedOnce('b');
    const repo = new LedgerRepository(racing, list());
    // Refused (b moved since it was read): the caller retries, as executeWrite does once.
    await expect(repo.append(['a', 'b'], 'a', counted())).rejects.toMatchObject({
      name: 'RevisionConflictError',
      stream: 'b',
    });
    const retried = await repo.append(['a', 'b'], 'a', counted());
    expect(calls).toEqual([1, 1]);
    expect(retried.events[0]?.data.n).toBe(1);
    expect((await repo.load(['a', 'b'])).state).toEqual(['100', '1']);
  });

  test('a lone command refused for another writer’s event keeps the cached fold: the retry folds only what is new', async () => {
    await put('a', 1, 2, 3);
    const { racing } = intrudedOnce('b');
    const fold = list();
    const repo = new LedgerRepository(racing, fold);
    await repo.load(['a', 'b']);
    expect(fold.evolved).toBe(3);
    await expect(repo.append(['a', 'b'], 'a', counted())).rejects.toMatchObject({ stream: 'b' });
    await repo.append(['a', 'b'], 'a', counted());
    // The refused attempt's own event (folded, then dropped), b's event, the retried command's:
    // the three of the history are not folded again.
    expect(fold.evolved).toBe(6);
    expect((await repo.load(['a', 'b'])).state).toEqual(['1', '2', '3', '100', '4']);
  });

  test('appending to a stream that is not read is refused', async () => {
    const repo = new LedgerRepository(store, list());
    await expect(repo.append(['a'], 'b', counted())).rejects.toThrow(/not one of the streams read/);
  });

  test('commands appending to another stream wait for the next batch', async () => {
    const { wrapped, calls } = appendsCounted(store);
    const repo = new LedgerRepository(wrapped, list());
    const results = await Promise.all([
      repo.append(['a', 'b'], 'a', counted()),
      repo.append(['a', 'b'], 'a', counted()),
      repo.append(['a', 'b'], 'b', counted()),
      repo.append(['a', 'b'], 'a', counted()),
    ]);
    expect(calls).toEqual([2, 1, 1]);
    expect(results.map((r) => r.events[0]?.data.n)).toEqual([0, 1, 2, 3]);
  });
});
