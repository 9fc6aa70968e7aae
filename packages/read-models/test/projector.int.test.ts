import { openEventStore } from '@ptce/event-store';
import { parisDate } from '@ptce/events';
import { DEFAULT_STAGE_RULES } from '@ptce/projections';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Projector } from '../src/projector.ts';
import { PtceLedgers } from '../src/ptce-ledgers.ts';
import { MemoryReadModels, modelOf, type ReadModelStore } from '../src/read-models.ts';
import { rebuildReadModels } from '../src/rebuild.ts';
import { type Command, command, freshFold, json, PtceWriter } from './histories.ts';

/*
 * The projector against a rebuild: random histories of a few PTCE (backdated events, corrections
 * of joins, retractions) appended in random batches while it runs, from an empty log or after a
 * part was written (its first activation rebuilds); once it has reached the head, every model
 * equals the model of the PTCE's whole log folded from nothing, and what a rebuild into fresh
 * models gives.
 */

const rules = DEFAULT_STAGE_RULES;
const NOW = Date.parse('2024-03-15T12:00:00.000Z');
const clock = () => NOW;
const DAY = parisDate(NOW);
const PTCES = ['alpha', 'beta', 'gamma'] as const;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await sleep(5);
}

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function snapshot(models: ReadModelStore, ids: readonly string[]) {
  const byId: Record<string, unknown> = {};
  for (const id of ids) byId[id] = (await models.read(id)).model;
  return json({ list: await models.list(), byId });
}

/** One write: a PTCE (registered on its first write, or never for the last one) and its commands. */
const write = fc.record({
  ptce: fc.nat({ max: PTCES.length - 1 }),
  commands: fc.array(command, { maxLength: 6 }),
});

describe('Projector', () => {
  test('after reached(head), every model equals the model of a fresh fold and of a rebuild', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(write, { minLength: 1, maxLength: 12 }),
        fc.nat({ max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        async (writes, writtenBefore, batchSize, gammaRegistered) => {
          const store = await openEventStore('sqlite::memory:');
          const models = new MemoryReadModels();
          const projector = new Projector({
            store,
            models,
            ledgers: new PtceLedgers(store),
            rules,
            clock,
            batchSize,
            tickMs: 20,
            restFactor: 0,
          });
          try {
            const writers = PTCES.map((id) => new PtceWriter(store, id));
            const registered = new Set<string>();
            const apply = async ({ ptce, commands }: { ptce: number; commands: Command[] }) => {
              const writer = writers[ptce]!;
              if (!registered.has(writer.ptceId)) {
                registered.add(writer.ptceId);
                // gamma may never be registered: events of a PTCE with no registration have no model.
                if (writer.ptceId !== 'gamma' || gammaRegistered)
                  await writer.append([writer.registration()]);
              }
              await writer.write(commands);
            };
            for (const w of writes.slice(0, writtenBefore)) await apply(w);
            projector.start();
            for (const w of writes.slice(writtenBefore)) {
              await apply(w);
              await sleep(w.commands.length % 3);
            }
            const head = await store.headPosition();
            if (head !== null) await within(projector.reached(head), 10_000, `reached(${head})`);
            else
              await within(
                until(() => projector.status === 'active'),
                5_000,
                'active',
              );
            expect(projector.status).toBe('active');

            const ids = [...registered];
            for (const id of ids) {
              const expected = modelOf(id, await freshFold(store, id), DAY, rules);
              const { model } = await models.read(id);
              expect(json(model), id).toEqual(json(expected));
            }
            const rebuilt = new MemoryReadModels();
            const summary = await rebuildReadModels({ store, models: rebuilt, rules, clock });
            expect(summary.position).toBe(head);
            expect(await snapshot(models, ids)).toEqual(await snapshot(rebuilt, ids));
            expect(await models.checkpoint()).toBe(head);
          } finally {
            await projector.stop();
            await store.close();
          }
        },
      ),
      { numRuns: 20 },
    );
  });
});
