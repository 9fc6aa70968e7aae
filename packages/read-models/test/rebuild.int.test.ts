import { openEventStore } from '@ptce/event-store';
import { DEFAULT_STAGE_RULES } from '@ptce/projections';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MemoryReadModels } from '../src/read-models.ts';
import { rebuildReadModels } from '../src/rebuild.ts';
import { PtceWriter } from './histories.ts';

const store = await openEventStore('sqlite::memory:');
const clock = () => Date.parse('2024-03-15T12:00:00.000Z');

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
});
