import type { EventEnvelope } from '@ptce/events';
import { parisDay } from '@ptce/events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileLedger,
  type Fact,
  foldLedger,
  type LedgerState,
  LogPrefixes,
  ledgerFinal,
  type PrefixReader,
  replayLedger,
  visitFacts,
} from '../src/index.ts';
import { addRaw, dates, rawArb, registeredLog } from './raw-history.ts';

/*
 * LogPrefixes against the fold of each prefix from scratch: for every prefix of random logs
 * (corrections, renames, retractions, duplicates, garbage, retroactive annulments), at random valid
 * times, the state it lends and the reader's value at the end of the day are those of a plain
 * replay of the prefix, whatever the checkpoints' spacing.
 */

/**
 * Reads everything but the recognitions: it keeps a line per day with a fact other than a
 * recognition, its members and associates.
 */
interface Lines {
  lines: string[];
  moved: boolean;
}
const reader: PrefixReader<Lines> = {
  start: () => ({ lines: [], moved: false }),
  copy: (v) => ({ lines: [...v.lines], moved: v.moved }),
  fact: (v, fact) => {
    if (fact.type !== 'RecognitionGranted') v.moved = true;
  },
  dayEnd: (v, state, day) => {
    if (!v.moved) return;
    v.moved = false;
    v.lines.push(`${day} ${[...state.members.keys()].join(',')} ${[...state.associates.keys()].join(',')}`);
  },
  reads: (fact) => (fact.type === 'RecognitionGranted' ? null : JSON.stringify(fact)),
};

/** Maps as their entries in iteration order, all the way down: the order is compared too. */
const plain = (v: unknown): unknown => {
  if (v instanceof Map || (typeof v === 'object' && v !== null && 'entries' in v && 'has' in v)) {
    return [...(v as ReadonlyMap<unknown, unknown>).entries()].map(([k, x]) => [k, plain(x)]);
  }
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, plain(x)]));
  }
  return v;
};

/** The state without what the reader does not read. */
const seen = (state: LedgerState) =>
  plain({
    registration: state.registration,
    pilotId: state.pilotId,
    members: state.members,
    periods: state.periods,
    spaces: state.spaces,
    meetings: state.meetings,
    activities: state.activities,
    legalEntity: state.legalEntity,
    associates: state.associates,
    decisions: state.decisions,
    warnings: state.warnings,
  });

/** The reader run over a plain replay of the prefix, to the end of `at`'s day. */
function naive(events: readonly EventEnvelope[], at: string): { value: Lines; state: LedgerState } {
  const ledger = foldLedger(events);
  const { facts } = compileLedger(ledger);
  const day = parisDay(at);
  const value = reader.start();
  visitFacts(ledger, (fact: Fact, state, i) => {
    const d = parisDay(fact.occurredAt);
    if (d > day) return false;
    reader.fact(value, fact);
    const next = facts[i + 1];
    if (!next || parisDay(next.occurredAt) !== d) reader.dayEnd(value, state, d);
    return true;
  });
  return { value, state: replayLedger(ledger, { kind: 'asOf', at }) };
}

const atArb = fc.constantFrom(...dates, '2019-06-01', '2020-03-01T09:30:00+01:00', '2023-01-01');

describe('LogPrefixes (properties)', () => {
  it('every prefix replays to the state and reader value of its own fold', () => {
    fc.assert(
      fc.property(
        fc.array(rawArb, { maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(atArb, { minLength: 1, maxLength: 3 }),
        (history, checkpointFacts, ats) => {
          const log = registeredLog();
          for (const r of history) addRaw(log, r);
          const whole = foldLedger(log.events);
          const prefixes = new LogPrefixes(whole, { checkpointFacts });
          for (let size = 0; size <= log.events.length; size++) {
            const events = log.events.slice(0, size);
            expect(prefixes.ledgerOf(size).size).toBe(size);
            expect(prefixes.registered(size)).toBe(ledgerFinal(foldLedger(events)).registration !== null);
            for (const at of ats) {
              let lent: unknown = null;
              const value = prefixes.replayTo(size, at, reader, reader, (state) => {
                lent = seen(state);
              });
              const want = naive(events, at);
              expect(lent).toEqual(seen(want.state));
              expect(value).toEqual(want.value);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('knownAt is the longest prefix recorded by then, whatever the order of the recording instants', () => {
    const log = registeredLog();
    for (const at of ['2024-01-01T00:00:05Z', '2024-01-01T00:00:03Z', '2024-01-01T00:00:09Z']) {
      const e = log.add('RecognitionGranted', '2020-02-01', { programme: 'p', grantor: 'g' });
      (e as { recordedAt: string }).recordedAt = at;
    }
    const prefixes = new LogPrefixes(foldLedger(log.events));
    const ms = (s: string) => Date.parse(s);
    // The second event (recorded at :05) ends the prefix at :04, though the third was recorded by then.
    expect(prefixes.knownAt(ms('2024-01-01T00:00:04Z'))).toBe(1);
    expect(prefixes.knownAt(ms('2024-01-01T00:00:05Z'))).toBe(3);
    expect(prefixes.knownAt(ms('2024-01-01T00:00:09Z'))).toBe(4);
    expect(prefixes.knownAt(Number.POSITIVE_INFINITY)).toBe(4);
    expect(prefixes.knownAt(0)).toBe(0);
  });
});
