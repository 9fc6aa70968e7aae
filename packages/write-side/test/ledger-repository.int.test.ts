import { type EventStore, openEventStore } from '@ptce/event-store';
import { type EventEnvelope, newEventId } from '@ptce/events';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { type Fold, LedgerRepository } from '../src/index.ts';

/** The real store, counting what readStream hands back. */
function counting(store: EventStore) {
  const counts = { calls: 0, events: 0 };
  const wrapped: EventStore = {
    kind: store.kind,
    append: (s, e, o) => store.append(s, e, o),
    readStream: async (s, o) => {
      counts.calls++;
      const page = await store.readStream(s, o);
      counts.events += page.length;
      return page;
    },
    streamRevision: (s) => store.streamRevision(s),
    readAll: (o) => store.readAll(o),
    subscribe: (h, o) => store.subscribe(h, o),
    ping: () => store.ping(),
    close: () => store.close(),
  };
  return { wrapped, counts };
}

/** Records every event evolved, so a double fold shows. */
function list(): Fold<readonly string[]> & { evolved: number } {
  const fold = {
    evolved: 0,
    initial: (): readonly string[] => [],
    evolve: (state: readonly string[], event: EventEnvelope): readonly string[] => {
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
  const events = ns.map((n) => ({
    eventId: newEventId(),
    type: 'Counted',
    schemaVersion: 1,
    ptceId: 'p',
    occurredAt: '2020-01-01',
    recordedBy: 'test',
    data: { n },
  }));
  await store.append(stream, events, { expectedRevision: 'any' });
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
    const repo = new LedgerRepository(wrapped, list(), 10, 2);
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
    const repo = new LedgerRepository(store, fold, 1);
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
});
