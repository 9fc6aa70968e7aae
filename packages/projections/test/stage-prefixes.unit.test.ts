import { foldLedger, LogPrefixes } from '@ptce/domain';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The domain's raw logs: corrections, renames, retractions, duplicates, garbage, annulments.
import { addRaw, dates, rawArb, registeredLog } from '../../domain/test/raw-history.ts';
import { DEFAULT_STAGE_RULES, readStageAt, readStageOnPrefix, type StageRules } from '../src/index.ts';

/*
 * The stage read on a prefix of a log through its LogPrefixes (checkpoints of the whole log's
 * replay, a prefix's own facts replayed from the last one it shares) is the stage read on a fold of
 * that prefix alone: for every prefix of random logs, at random valid times, with checkpoints every
 * fact or every few.
 */

const LOW: StageRules = Object.freeze({
  minPartners: 1,
  collectiveShare: 0.5,
  minAssociateShare: 0.5,
  stalledAfterMonths: 6,
});

const atArb = fc.constantFrom(
  ...dates,
  '2019-06-01',
  '2020-03-01T09:30:00+01:00',
  '2020-09-30',
  '2023-01-01',
);

describe('readStageOnPrefix (properties)', () => {
  it('equals readStageAt on a fold of the prefix alone', () => {
    fc.assert(
      fc.property(
        fc.array(rawArb, { maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        fc.array(atArb, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(LOW, DEFAULT_STAGE_RULES),
        (history, checkpointFacts, ats, rules) => {
          const log = registeredLog();
          for (const r of history) addRaw(log, r);
          const prefixes = new LogPrefixes(foldLedger(log.events), { checkpointFacts });
          for (let size = 0; size <= log.events.length; size++) {
            const alone = foldLedger(log.events.slice(0, size));
            for (const at of ats) {
              expect(readStageOnPrefix(prefixes, size, at, rules)).toEqual(readStageAt(alone, at, rules));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
