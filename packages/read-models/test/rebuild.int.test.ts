import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type EventStore, openEventStore } from '@ptce/event-store';
import { DEFAULT_STAGE_RULES } from '@ptce/projections';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MemoryReadModels } from '../src/read-models.ts';
import { rebuildReadModels } from '../src/rebuild.ts';
import { type FoldedPtce, FoldThreads, foldPtce } from '../src/rebuild-threads.ts';
import { command, PtceWriter } from './histories.ts';

const store = await openEventStore('sqlite::memory:');
const clock = () => Date.parse('2024-03-15T12:00:00.000Z');

/**
 * A store in a SQLite file of a directory of its own, each of `ptceIds` registered and joined by
 * one member, given to `use` with its URL and file path; removed afterwards.
 */
async function withFileStore(
  ptceIds: readonly string[],
  use: (file: EventStore, storeUrl: string, dbPath: string) => Promise<void>,
): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-rebuild-threads-'));
  const dbPath = path.join(dir, 'ptce.db');
  const storeUrl = `sqlite:${dbPath}`;
  const file = await openEventStore(storeUrl);
  try {
    for (const ptceId of ptceIds) {
      const writer = new PtceWriter(file, ptceId);
      await writer.append([writer.registration()]);
      await writer.write([{ kind: 'join', member: 'm1', category: 'enterprise', at: '2019-02-01' }]);
    }
    await use(file, storeUrl, dbPath);
  } finally {
    await file.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The PTCE's join rewritten behind the store's back: no JSON any more. */
function breakJoinOf(dbPath: string, ptceId: string): void {
  const db = new Database(dbPath);
  db.prepare("UPDATE events SET data = '{broken' WHERE ptce_id = ? AND type = 'MemberJoined'").run(ptceId);
  db.close();
}

beforeAll(async () => {
  for (const ptceId of ['kept', 'retracted']) {
    const writer = new PtceWriter(store, ptceId);
    await writer.append([writer.registration()]);
  }
});
afterAll(() => store.close());

describe('rebuildReadModels', () => {
  test('over models already kept: every PTCE recomputed, and one whose registration was retracted loses its model', async () => {
    const models = new MemoryReadModels();
    const first = await rebuildReadModels({ store, models, rules: DEFAULT_STAGE_RULES, clock });
    expect(first).toMatchObject({ ptces: 2, models: 2 });
    expect((await models.list()).map((entry) => entry.ptceId)).toEqual(['kept', 'retracted']);

    // A tool writing to the store directly retracts a registration (the API refuses to).
    const writer = new PtceWriter(store, 'retracted');
    const [registration] = await store.readStream('membership-retracted');
    await writer.append([
      writer.event('EventRetracted', new Date(clock()).toISOString(), {
        retractedEventId: registration!.eventId,
        retractedType: 'PtceRegistered',
        reason: 'registered twice',
      }),
    ]);
    const second = await rebuildReadModels({ store, models, rules: DEFAULT_STAGE_RULES, clock });
    expect(second).toMatchObject({ ptces: 2, models: 1, position: await store.headPosition() });
    expect((await models.list()).map((entry) => entry.ptceId)).toEqual(['kept']);
    expect((await models.read('retracted')).model).toBeNull();
    expect(await models.checkpoint()).toBe(second.position);
  });

  test('with threads, each reading the store again: the same models and checkpoint as in one thread, whichever folded each PTCE', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-rebuild-threads-'));
    const storeUrl = `sqlite:${path.join(dir, 'ptce.db')}`;
    const file = await openEventStore(storeUrl);
    try {
      const histories = fc.sample(fc.array(command, { maxLength: 40 }), { numRuns: 7, seed: 42 });
      for (const [i, commands] of histories.entries()) {
        const writer = new PtceWriter(file, `pole-${i}`);
        await writer.append([writer.registration()]);
        await writer.write(commands);
      }
      const alone = new MemoryReadModels();
      const inThreads = new MemoryReadModels();
      const progress: number[] = [];
      const one = await rebuildReadModels({ store: file, models: alone, rules: DEFAULT_STAGE_RULES, clock });
      const several = await rebuildReadModels({
        store: file,
        models: inThreads,
        rules: DEFAULT_STAGE_RULES,
        clock,
        threads: { count: 3, storeUrl },
        onProgress: ({ done }) => progress.push(done),
      });
      expect(several).toEqual(one);
      expect(one).toMatchObject({ ptces: 7, models: 7 });
      expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(await inThreads.list()).toEqual(await alone.list());
      for (let i = 0; i < 7; i++) {
        expect((await inThreads.read(`pole-${i}`)).model).toEqual((await alone.read(`pole-${i}`)).model);
      }
      expect(await inThreads.checkpoint()).toBe(await alone.checkpoint());
    } finally {
      await file.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('in threads, a PTCE whose log cannot be read fails the rebuild, naming it, and writes no checkpoint', async () => {
    await withFileStore(['sain', 'abime'], async (file, storeUrl, dbPath) => {
      breakJoinOf(dbPath, 'abime');
      const models = new MemoryReadModels();
      await expect(
        rebuildReadModels({
          store: file,
          models,
          rules: DEFAULT_STAGE_RULES,
          clock,
          threads: { count: 2, storeUrl },
        }),
      ).rejects.toThrow(/rebuild of abime/);
      expect(await models.checkpoint()).toBeNull();
    });
  });

  test('a pool folds every PTCE once, here and in its threads, each answer taken alone and equal to a fold here', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `pole-${String(i).padStart(2, '0')}`);
    await withFileStore(ids, async (file, storeUrl) => {
      const head = await file.headPosition();
      if (head === null) throw new Error('nothing written');
      const spec = { head, day: '2024-03-15', rules: DEFAULT_STAGE_RULES };
      // This thread's first fold waits for a thread's first answer: both fold some.
      let firstTaken = () => {};
      const aThreadAnswered = new Promise<void>((resolve) => {
        firstTaken = resolve;
      });
      const foldedHere: string[] = [];
      const foldHere = async (ptceId: string) => {
        foldedHere.push(ptceId);
        await aThreadAnswered;
        return foldPtce(file, ptceId, spec);
      };
      const taken: FoldedPtce[] = [];
      let taking = 0;
      const pool = FoldThreads.start(2, { ...spec, storeUrl });
      try {
        await pool.foldAll(ids, foldHere, async (folded) => {
          taking++;
          expect(taking).toBe(1);
          await new Promise((resolve) => setTimeout(resolve, 5));
          taken.push(folded);
          firstTaken();
          taking--;
        });
      } finally {
        await pool.stop();
      }
      expect(taken.map((folded) => folded.ptceId).sort()).toEqual(ids);
      expect(foldedHere.length).toBeGreaterThan(0);
      expect(foldedHere.length).toBeLessThan(ids.length);
      for (const folded of taken) expect(folded).toEqual(await foldPtce(file, folded.ptceId, spec));
    });
  });

  test("a PTCE a thread cannot read fails the pool's fold, naming it", async () => {
    await withFileStore(['sain', 'abime'], async (file, storeUrl, dbPath) => {
      breakJoinOf(dbPath, 'abime');
      const head = await file.headPosition();
      if (head === null) throw new Error('nothing written');
      const spec = { head, day: '2024-03-15', rules: DEFAULT_STAGE_RULES };
      const taken: string[] = [];
      const pool = FoldThreads.start(1, { ...spec, storeUrl });
      try {
        // Folded in the thread alone.
        await expect(
          pool.foldAll(['abime', 'sain'], null, async (folded) => {
            taken.push(folded.ptceId);
          }),
        ).rejects.toThrow(/rebuild of abime: .*JSON/);
      } finally {
        await pool.stop();
      }
      expect(taken).toEqual([]);
    });
  });

  test('a pool stopped while its threads start ends at once, and a fold under way throws', async () => {
    await withFileStore(['seul'], async (file, storeUrl) => {
      const head = await file.headPosition();
      if (head === null) throw new Error('nothing written');
      const pool = FoldThreads.start(2, { head, day: '2024-03-15', rules: DEFAULT_STAGE_RULES, storeUrl });
      const folding = expect(pool.foldAll(['seul'], null, async () => undefined)).rejects.toThrow(/stopped/);
      const started = performance.now();
      await pool.stop();
      await folding;
      // Nothing waited for the threads to load their sources (about a second each).
      expect(performance.now() - started).toBeLessThan(500);
    });
  });

  test('a model a thread folded that cannot be taken fails the fold with that error, nothing left unhandled', async () => {
    const ids = ['un', 'deux', 'trois', 'quatre'];
    await withFileStore(ids, async (file, storeUrl) => {
      const head = await file.headPosition();
      if (head === null) throw new Error('nothing written');
      const pool = FoldThreads.start(1, { head, day: '2024-03-15', rules: DEFAULT_STAGE_RULES, storeUrl });
      const taken: string[] = [];
      try {
        await expect(
          pool.foldAll(ids, null, async (folded) => {
            taken.push(folded.ptceId);
            throw new Error(`the lock was lost at ${folded.ptceId}`);
          }),
        ).rejects.toThrow(/the lock was lost at un/);
      } finally {
        await pool.stop();
      }
      expect(taken).toEqual(['un']);
    });
  });
});
