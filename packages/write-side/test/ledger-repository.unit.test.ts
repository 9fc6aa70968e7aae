import type { EventStore } from '@ptce/event-store';
import type { EventEnvelope } from '@ptce/events';
import { expect, test } from 'vitest';
import { type Fold, LedgerRepository } from '../src/index.ts';
import { countedEvent } from './counted.ts';

/**
 * A log whose events become visible out of position order, as on PostgreSQL where positions
 * follow transaction ids and a transaction with a lower id may commit after a higher one.
 */
function lateCommitLog() {
  const visible: EventEnvelope[] = [];
  const event = (stream: string, revision: number, position: string, n: string): EventEnvelope => ({
    ...countedEvent(n, `${stream}-${revision}`),
    stream,
    revision,
    position,
    recordedAt: '2020-01-01T00:00:00Z',
    prevHash: '',
    hash: '',
  });
  const unused = () => Promise.reject(new Error('not used by LedgerRepository'));
  const store: EventStore = {
    kind: 'postgres',
    append: unused,
    readStream: async (stream, options = {}) =>
      visible
        .filter((e) => e.stream === stream && e.revision >= (options.fromRevision ?? 0))
        .sort((a, b) => a.revision - b.revision)
        .slice(0, options.limit ?? Number.MAX_SAFE_INTEGER),
    streamRevision: unused,
    readAll: unused,
    headPosition: unused,
    subscribe: () => {
      throw new Error('not used by LedgerRepository');
    },
    ping: unused,
    close: async () => undefined,
  };
  return { store, commit: (...events: EventEnvelope[]) => visible.push(...events), event };
}

const fold: Fold<readonly string[]> = {
  initial: () => [],
  evolve: (state, e) => [...state, String(e.data.n)],
};

test('fold out of log order on PostgreSQL: a late-committed lower position refolds the cache in log order', async () => {
  const log = lateCommitLog();
  const ledgers = new LedgerRepository(log.store, fold);
  const streams = ['a', 'b'];
  log.commit(log.event('a', 0, '0002', 'a0'));
  expect((await ledgers.load(streams)).state).toEqual(['a0']);
  // Position 0001 was taken first but its transaction committed only now.
  log.commit(log.event('b', 0, '0001', 'b0'), log.event('a', 1, '0003', 'a1'));
  const loaded = await ledgers.load(streams);
  expect(loaded.state).toEqual(['b0', 'a0', 'a1']);
  expect(loaded.revisions).toEqual({ a: 1, b: 0 });
  // In order afterwards, the cache serves again: only the new event is folded on.
  log.commit(log.event('b', 1, '0004', 'b1'));
  expect((await ledgers.load(streams)).state).toEqual(['b0', 'a0', 'a1', 'b1']);
});
