import { type EventStore, openEventStore } from '@ptce/event-store';
import { DEFAULT_STAGE_RULES } from '@ptce/projections';
import { MemoryReadModels, rebuildReadModels } from '@ptce/read-models';
import { createTempDatabase, type TempDatabase } from '@ptce/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
// The pool is the rebuild's own, not the package's API: a thread-only fold is what shows threads
// reading PostgreSQL, since a small log is folded by the command's thread before they start.
import { type FoldedPtce, FoldThreads, foldPtce } from '../../packages/read-models/src/rebuild-threads.ts';
import { command, PtceWriter } from '../../packages/read-models/test/histories.ts';

const clock = () => Date.parse('2024-03-15T12:00:00.000Z');
const ids = Array.from({ length: 6 }, (_, i) => `pole-${i}`);
let database: TempDatabase;
let store: EventStore;

beforeAll(async () => {
  database = await createTempDatabase('ptce_rebuild_threads');
  store = await openEventStore(database.url);
  const histories = fc.sample(fc.array(command, { maxLength: 30 }), { numRuns: ids.length, seed: 7 });
  for (const [i, commands] of histories.entries()) {
    const writer = new PtceWriter(store, ids[i]!);
    await writer.append([writer.registration()]);
    await writer.write(commands);
  }
});
afterAll(async () => {
  await store?.close();
  await database?.drop();
});

describe('the rebuild in threads on PostgreSQL, each thread connecting to the database again', () => {
  test('threads alone fold every PTCE as this thread folds it', async () => {
    const head = await store.headPosition();
    if (head === null) throw new Error('nothing written');
    const spec = { head, day: '2024-03-15', rules: DEFAULT_STAGE_RULES };
    const taken: FoldedPtce[] = [];
    const pool = FoldThreads.start(2, { ...spec, storeUrl: database.url });
    try {
      await pool.foldAll(ids, null, async (folded) => {
        taken.push(folded);
      });
    } finally {
      await pool.stop();
    }
    expect(taken.map((folded) => folded.ptceId).sort()).toEqual(ids);
    for (const folded of taken) expect(folded).toEqual(await foldPtce(store, folded.ptceId, spec));
  });

  test('rebuildReadModels with threads leaves the same models and checkpoint as in one thread', async () => {
    const alone = new MemoryReadModels();
    const inThreads = new MemoryReadModels();
    const one = await rebuildReadModels({ store, models: alone, rules: DEFAULT_STAGE_RULES, clock });
    const several = await rebuildReadModels({
      store,
      models: inThreads,
      rules: DEFAULT_STAGE_RULES,
      clock,
      threads: { count: 3, storeUrl: database.url },
    });
    expect(several).toEqual(one);
    expect(one).toMatchObject({ ptces: ids.length, models: ids.length });
    expect(await inThreads.list()).toEqual(await alone.list());
    for (const ptceId of ids) {
      expect((await inThreads.read(ptceId)).model).toEqual((await alone.read(ptceId)).model);
    }
    expect(await inThreads.checkpoint()).toBe(await alone.checkpoint());
  });
});
