import { foldLedger, type Ledger } from '@ptce/domain';
import { type EventStore, type FoldableEvent, openEventStore } from '@ptce/event-store';
import { type EventEnvelope, ptceStreams, streamName } from '@ptce/events';
import { DEFAULT_STAGE_RULES } from '@ptce/projections';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { stageBody, stageBodyOnPrefix, stateBody, timelineBody } from '../src/answers.ts';
import { cutLedger, PtceLedgers } from '../src/ptce-ledgers.ts';
import { cutLog, type LogCut, readPtceLog } from '../src/ptce-log.ts';
import { type Command, command, freshFold, json, PtceWriter, positionsOf } from './histories.ts';

const rules = DEFAULT_STAGE_RULES;
const DAYS = ['2019-06-30', '2021-03-15', '2024-12-31'] as const;

/** Every answer the read side computes from a ledger alone, as JSON. */
function answers(ptceId: string, ledger: Ledger) {
  return json({
    size: ledger.size,
    positions: positionsOf(ledger),
    timeline: timelineBody(ledger, rules),
    byDay: DAYS.map((day) => ({
      stage: stageBody(ledger, day, rules),
      state: stateBody(ptceId, ledger, day),
    })),
  });
}

let store: EventStore;
beforeEach(async () => {
  store = await openEventStore('sqlite::memory:');
});
afterEach(async () => {
  await store.close();
});

async function writeHistory(ptceId: string, commands: readonly Command[]): Promise<PtceWriter> {
  const writer = new PtceWriter(store, ptceId);
  await writer.append([writer.registration()]);
  await writer.write(commands);
  return writer;
}

describe('readPtceLog', () => {
  const envelope = (stream: string, revision: number, position: number) =>
    ({ stream, revision, position: String(position).padStart(6, '0') }) as EventEnvelope;
  /** A store that answers each stream's events as given, whatever their order. */
  const storeOf = (streams: Record<string, EventEnvelope[]>) =>
    ({
      readStream: async (stream: string, options: { fromRevision?: number } = {}) =>
        (streams[stream] ?? []).filter((event) => event.revision >= (options.fromRevision ?? 0)),
    }) as unknown as EventStore;

  test("the three streams in one log in position order, and sorted even if a store's stream is not", async () => {
    const [membership, workgroups, decisions] = ptceStreams('p');
    const positions = async (streams: Record<string, EventEnvelope[]>) =>
      (await readPtceLog(storeOf(streams), 'p')).map((event) => Number(event.position));
    expect(
      await positions({
        [membership!]: [
          envelope(membership!, 0, 1),
          envelope(membership!, 1, 4),
          envelope(membership!, 2, 7),
        ],
        [workgroups!]: [envelope(workgroups!, 0, 2), envelope(workgroups!, 1, 5)],
        [decisions!]: [envelope(decisions!, 0, 3), envelope(decisions!, 1, 6), envelope(decisions!, 2, 8)],
      }),
    ).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(
      await positions({
        [membership!]: [envelope(membership!, 0, 5), envelope(membership!, 1, 1)],
        [workgroups!]: [envelope(workgroups!, 0, 3)],
      }),
    ).toEqual([1, 3, 5]);
  });
});

describe('cutLedger', () => {
  test('knownAt and atPosition cuts answer as a fold of cutLog from nothing, recordedAt monotonic or not', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 3, maxLength: 25 }),
        // Recording instants, in log order, that may go back (two processes' clocks differ).
        fc.array(fc.integer({ min: -3, max: 5 }), { minLength: 30, maxLength: 30 }),
        fc.array(fc.nat(), { minLength: 4, maxLength: 4 }),
        async (commands, steps, picks) => {
          const ptceId = `p${Math.random().toString(36).slice(2, 10)}`;
          await writeHistory(ptceId, commands);
          const base = Date.parse('2024-01-01T00:00:00.000Z');
          let clock = base;
          const log: FoldableEvent[] = (await readPtceLog(store, ptceId)).map((event, i) => {
            clock += (steps[i % steps.length] ?? 1) * 1000;
            return { ...event, recordedAt: new Date(clock).toISOString() };
          });
          const full = foldLedger(log);
          const instants = log.map((e) => Date.parse(e.recordedAt));
          const cuts: LogCut[] = [
            { kind: 'atPosition', position: log[picks[0]! % log.length]!.position },
            { kind: 'atPosition', position: '0' },
            { kind: 'knownAt', at: instants[picks[1]! % log.length]! },
            { kind: 'knownAt', at: instants[picks[2]! % log.length]! - 1 },
            { kind: 'knownAt', at: Math.min(...instants) - 1 },
            { kind: 'knownAt', at: Math.max(...instants) },
          ];
          for (const cut of cuts) {
            const expected = foldLedger(cutLog(log, cut));
            expect(answers(ptceId, cutLedger(full, cut)), JSON.stringify(cut)).toEqual(
              answers(ptceId, expected),
            );
          }
          // The full ledger still answers as itself after its prefixes were compiled.
          expect(answers(ptceId, full)).toEqual(answers(ptceId, foldLedger(log)));
        },
      ),
      { numRuns: 25 },
    );
  });

  test('an event recorded later but placed earlier ends the knownAt prefix', async () => {
    const writer = new PtceWriter(store, 'late');
    await writer.append([writer.registration()]);
    await writer.write([
      { kind: 'join', member: 'm1', category: 'enterprise', at: '2019-02-01' },
      { kind: 'join', member: 'm2', category: 'local_authority', at: '2019-02-02' },
      { kind: 'join', member: 'm3', category: 'research_higher_education', at: '2019-02-03' },
    ]);
    const stamps = ['2024-01-01T10:00:00.000Z', '2024-01-01T10:00:05.000Z', '2024-01-01T10:00:02.000Z'];
    const log = (await readPtceLog(store, 'late')).map((event, i) => ({
      ...event,
      recordedAt: stamps[i] ?? '2024-01-01T10:00:03.000Z',
    }));
    // log: registration @0s, m1 @5s, m2 @2s, m3 @3s (log order). Known at 4s: m2 and m3 were
    // recorded by then, but m1 (placed before them) was not: the prefix is the registration alone.
    const full = foldLedger(log);
    const cut: LogCut = { kind: 'knownAt', at: Date.parse('2024-01-01T10:00:04.000Z') };
    const prefix = cutLedger(full, cut);
    expect(prefix.size).toBe(1);
    expect(positionsOf(prefix)).toEqual([log[0]!.position]);
    expect(stateBody('late', prefix, '2020-01-01')!.members.map((m) => m.organisationId)).toEqual(['asso']);
    expect(answers('late', prefix)).toEqual(answers('late', foldLedger(cutLog(log, cut))));
    // Known at 5s: every event.
    expect(cutLedger(full, { kind: 'knownAt', at: Date.parse(stamps[1]!) })).toBe(full);
  });
});

describe('PtceLedgers.cutWithPrefixes', () => {
  test('cuts as cutLedger does, reuses its index while the log only grows past the cut, and reads the stage as stageBody', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { minLength: 2, maxLength: 15 }),
        fc.array(command, { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(), { minLength: 3, maxLength: 3 }),
        async (before, after, picks) => {
          const ptceId = `p${Math.random().toString(36).slice(2, 10)}`;
          const writer = await writeHistory(ptceId, before);
          const ledgers = new PtceLedgers(store);
          const cutsOf = (log: readonly FoldableEvent[]): (LogCut | null)[] => [
            null,
            { kind: 'atPosition', position: log[picks[0]! % log.length]!.position },
            { kind: 'knownAt', at: Date.parse(log[picks[1]! % log.length]!.recordedAt) },
            { kind: 'knownAt', at: Date.parse(log[picks[2]! % log.length]!.recordedAt) - 1 },
            { kind: 'knownAt', at: Number.POSITIVE_INFINITY },
          ];
          const check = async () => {
            const log = await ledgers.latest(ptceId);
            const events = await readPtceLog(store, ptceId);
            for (const cut of cutsOf(events)) {
              const { ledger, prefixes } = ledgers.cutWithPrefixes(log, cut);
              const expected = cut ? cutLedger(log.ledger, cut) : log.ledger;
              expect(ledger.size, JSON.stringify(cut)).toBe(expected.size);
              expect(ledger.last).toBe(expected.last);
              expect(prefixes.ledgerOf(ledger.size).last).toBe(expected.last);
              for (const day of DAYS) {
                expect(json(stageBodyOnPrefix(prefixes, ledger.size, day, rules))).toEqual(
                  json(stageBody(expected, day, rules)),
                );
              }
            }
            return log;
          };
          const first = await check();
          const index = ledgers.cutWithPrefixes(first, null).prefixes;
          await writer.write(after);
          const grown = await ledgers.latest(ptceId);
          // A cut that ends before the events written since is read on the index kept.
          const early = ledgers.cutWithPrefixes(grown, { kind: 'atPosition', position: first.head! });
          expect(early.prefixes).toBe(index);
          expect(early.ledger.last).toBe(first.ledger.last);
          await check();
        },
      ),
      { numRuns: 25 },
    );
  });
});

/** A store whose reads of one stream miss its events from position `hiddenFrom` on, while `hidden`. */
function lateCommitStore(inner: EventStore, stream: string) {
  const control = { hidden: true, hiddenFrom: '' };
  const wrapped: EventStore = Object.create(inner) as EventStore;
  Object.assign(wrapped, {
    kind: inner.kind,
    // Every read goes through readStream below, the fold's leaner one included.
    readStreamForFold: undefined,
    async readStream(name: string, options?: Parameters<EventStore['readStream']>[1]) {
      const events = await inner.readStream(name, options);
      if (!control.hidden || name !== stream) return events;
      return events.filter((e) => e.position < control.hiddenFrom);
    },
    // As PostgreSQL's does, the head stops short of a transaction still open, and of all after it.
    async headPosition() {
      if (!control.hidden) return inner.headPosition();
      const visible = (await inner.readAll()).filter((e) => e.position < control.hiddenFrom);
      return visible.at(-1)?.position ?? null;
    },
  });
  return { store: wrapped, control };
}

describe('PtceLedgers', () => {
  test('latest picks up what the streams gained since, and folds each event once', async () => {
    const writer = await writeHistory('p', [
      { kind: 'join', member: 'm1', category: 'enterprise', at: '2019-02-01' },
      { kind: 'space', space: 's1', at: '2019-03-01' },
    ]);
    const ledgers = new PtceLedgers(store);
    const first = await ledgers.latest('p');
    expect(first.ledger.size).toBe(3);
    expect(first.read).toEqual([2, 1, 0]);
    // Nothing new: the same log, nothing read again.
    expect(await ledgers.latest('p')).toBe(first);

    const more = await writer.write([
      { kind: 'enrol', space: 's1', member: 'm1', at: '2019-04-01' },
      { kind: 'join', member: 'm2', category: 'local_authority', at: '2019-01-15' },
      { kind: 'meeting', space: 's1', attendees: ['m1', 'asso'], at: '2020-01-01' },
    ]);
    const second = await ledgers.latest('p');
    expect(second.read).toEqual([3, 3, 0]);
    expect(second.head).toBe(more.at(-1)!.position);
    expect(answers('p', second.ledger)).toEqual(answers('p', await freshFold(store, 'p')));
    // The first log is an earlier node of the same list.
    expect(cutLedger(second.ledger, { kind: 'atPosition', position: first.head! }).last).toBe(
      first.ledger.last,
    );
  });

  test('an event committed late, placed before the head, makes it read the log again whole', async () => {
    const writer = await writeHistory('p', [
      { kind: 'join', member: 'm1', category: 'enterprise', at: '2019-02-01' },
    ]);
    const { store: late, control } = lateCommitStore(store, streamName('membership', 'p'));
    // A membership event at position k, then a workgroups event at k+1; k not yet visible.
    const [hidden] = await writer.write([
      { kind: 'join', member: 'm2', category: 'enterprise', at: '2019-02-02' },
    ]);
    await writer.write([{ kind: 'space', space: 's1', at: '2019-03-01' }]);
    control.hiddenFrom = hidden!.position;
    const ledgers = new PtceLedgers(late);
    const before = await ledgers.latest('p');
    expect(before.ledger.size).toBe(3);
    control.hidden = false;
    const after = await ledgers.latest('p');
    const whole = await freshFold(store, 'p');
    expect(after.ledger.size).toBe(4);
    expect(positionsOf(after.ledger)).toEqual(positionsOf(whole));
    expect(answers('p', after.ledger)).toEqual(answers('p', whole));
  });

  test('receive folds what follows, ignores what it holds, and lets the log go on a gap', async () => {
    const writer = await writeHistory('p', [
      { kind: 'join', member: 'm1', category: 'enterprise', at: '2019-02-01' },
    ]);
    const ledgers = new PtceLedgers(store);
    const held = await ledgers.latest('p');
    const heldLast = (await readPtceLog(store, 'p')).at(-1)!;
    const [next, after] = await writer.write([
      { kind: 'join', member: 'm2', category: 'enterprise', at: '2019-02-02' },
      { kind: 'join', member: 'm3', category: 'enterprise', at: '2019-02-03' },
    ]);
    // Already held: ignored.
    ledgers.receive(heldLast);
    expect(ledgers.peek('p')).toBe(held);
    // The next one: folded.
    ledgers.receive(next!);
    expect(ledgers.peek('p')!.ledger.size).toBe(3);
    expect(ledgers.peek('p')!.head).toBe(next!.position);
    // A gap (after without what follows next): let go, read whole next time.
    const [third] = await writer.write([
      { kind: 'join', member: 'm4', category: 'enterprise', at: '2019-02-04' },
    ]);
    ledgers.receive(third!);
    expect(ledgers.peek('p')).toBeUndefined();
    const reloaded = await ledgers.latest('p');
    expect(reloaded.ledger.size).toBe(5);
    expect(answers('p', reloaded.ledger)).toEqual(answers('p', await freshFold(store, 'p')));
    expect(after).toBeDefined();
  });

  test('receive of the next revision placed before the head lets the log go', async () => {
    const writer = await writeHistory('p', [{ kind: 'space', space: 's1', at: '2019-03-01' }]);
    const { store: late, control } = lateCommitStore(store, streamName('membership', 'p'));
    const [hidden] = await writer.write([
      { kind: 'join', member: 'm1', category: 'enterprise', at: '2019-02-01' },
    ]);
    await writer.write([{ kind: 'enrol', space: 's1', member: 'm1', at: '2019-04-01' }]);
    control.hiddenFrom = hidden!.position;
    const ledgers = new PtceLedgers(late);
    expect((await ledgers.latest('p')).ledger.size).toBe(3);
    // The late membership event is the stream's next revision but placed before the head.
    ledgers.receive(hidden!);
    expect(ledgers.peek('p')).toBeUndefined();
    control.hidden = false;
    const reloaded = await ledgers.latest('p');
    expect(positionsOf(reloaded.ledger)).toEqual(positionsOf(await freshFold(store, 'p')));
  });

  test('LRU by maxEvents: the least recently used logs go, the most recent stays whatever its size', async () => {
    const joins = (n: number): Command[] =>
      Array.from({ length: n }, (_, i) => ({
        kind: 'join' as const,
        member: `m${i + 1}`,
        category: 'enterprise',
        at: '2019-02-01',
      }));
    await writeHistory('a', joins(3));
    await writeHistory('b', joins(3));
    await writeHistory('c', joins(3));
    const ledgers = new PtceLedgers(store, { maxEvents: 10 });
    await ledgers.latest('a');
    await ledgers.latest('b');
    expect(ledgers.peek('a')).toBeDefined();
    await ledgers.latest('c');
    // 12 > 10: a, the least recently used, went.
    expect(ledgers.peek('a')).toBeUndefined();
    expect(ledgers.peek('b')).toBeDefined();
    expect(ledgers.peek('c')).toBeDefined();
    // b used again (no new event): c is now the least recently used.
    await ledgers.latest('b');
    await ledgers.latest('a');
    expect(ledgers.peek('c')).toBeUndefined();
    expect(ledgers.peek('b')).toBeDefined();
    expect(ledgers.peek('a')!.ledger.size).toBe(4);

    const tiny = new PtceLedgers(store, { maxEvents: 2 });
    expect((await tiny.latest('a')).ledger.size).toBe(4);
    expect(tiny.peek('a')).toBeDefined();
    await tiny.latest('b');
    expect(tiny.peek('a')).toBeUndefined();
    expect(tiny.peek('b')!.ledger.size).toBe(4);
  });

  test('concurrent latest calls, with writes between them, fold every event exactly once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(command, { minLength: 0, maxLength: 4 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 2, max: 6 }),
        fc.boolean(),
        async (batches, callers, warm) => {
          const ptceId = `p${Math.random().toString(36).slice(2, 10)}`;
          const writer = new PtceWriter(store, ptceId);
          await writer.append([writer.registration()]);
          const ledgers = new PtceLedgers(store);
          if (warm) await ledgers.latest(ptceId);
          const calls: Promise<unknown>[] = [];
          for (const batch of batches) {
            for (let i = 0; i < callers; i++) calls.push(ledgers.latest(ptceId));
            calls.push(writer.write(batch));
          }
          for (let i = 0; i < callers; i++) calls.push(ledgers.latest(ptceId));
          await Promise.all(calls);
          const log = await readPtceLog(store, ptceId);
          const latest = await ledgers.latest(ptceId);
          expect(latest.ledger.size).toBe(log.length);
          expect(positionsOf(latest.ledger)).toEqual(log.map((e) => e.position));
          expect(latest.read.reduce((a, b) => a + b, 0)).toBe(log.length);
        },
      ),
      { numRuns: 25 },
    );
  });
});
