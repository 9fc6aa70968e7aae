import { describe, expect, it } from 'vitest';
import { evolveLedger, foldLedger, initialLedger, ledgerFinal, replayLedger } from '../src/index.ts';
import { LogBuilder } from './fixtures.ts';

const SIMPLE = { quorum: 0.5, majority: 'simple' } as const;

/** PTCE p with pilot a, space s with a enrolled, and decision d1 taken by a alone on 2020-06-01. */
function history(): LogBuilder {
  const log = new LogBuilder('p');
  log.add('PtceRegistered', '2020-01-01', {
    name: 'P',
    territory: { name: 'T' },
    pilot: { organisationId: 'a', name: 'A', category: 'ess_enterprise' },
  });
  log.add('SpaceOpened', '2020-03-01', { spaceId: 's', kind: 'strategic', name: 's', rules: SIMPLE });
  log.add('MemberEnrolled', '2020-03-01', { spaceId: 's', organisationId: 'a', role: 'member' });
  log.add(
    'DecisionRecorded',
    '2020-06-01',
    {
      decisionId: 'd1',
      spaceId: 's',
      present: ['a'],
      title: 'T',
      kind: 'general',
      vote: { for: 1, against: 0, abstain: 0 },
      rules: SIMPLE,
      enrolledCount: 1,
      outcome: 'adopted',
    },
    'dec-d1',
  );
  return log;
}
const moveDecision = (log: LogBuilder, decidedAt: string) =>
  log.now('DecisionCorrected', {
    correctsEventId: 'dec-d1',
    decisionId: 'd1',
    fields: { decidedAt },
    reason: 'date of the minutes',
    rules: SIMPLE,
    enrolledCount: 1,
    outcome: 'adopted',
  });

describe('annulments in the fold', () => {
  it('given a retroactive annulment, when the decision is moved later, then the annulment moves with it', () => {
    const log = history();
    log.add('DecisionAnnulled', '2020-06-01', { decisionId: 'd1', reason: 'r', retroactive: true }, 'annul');
    moveDecision(log, '2020-07-01');
    const ledger = foldLedger(log.events);
    const final = ledgerFinal(ledger);
    expect(final.decisions.get('d1')?.annulled).toEqual({ at: '2020-07-01', reason: 'r', eventId: 'annul' });
    expect(final.warnings).toEqual([]);
    expect(replayLedger(ledger, { kind: 'asOf', at: '2020-06-15' }).decisions.has('d1')).toBe(false);
  });

  it('given a retroactive annulment, when the decision is moved earlier, then it is annulled from its new date', () => {
    const log = history();
    log.add('DecisionAnnulled', '2020-06-01', { decisionId: 'd1', reason: 'r', retroactive: true }, 'annul');
    moveDecision(log, '2020-05-01');
    const ledger = foldLedger(log.events);
    expect(replayLedger(ledger, { kind: 'asOf', at: '2020-05-01' }).decisions.get('d1')?.annulled?.at).toBe(
      '2020-05-01',
    );
  });

  it('given an annulment stored without the flag, then it still takes effect at its own date', () => {
    const log = history();
    log.add('DecisionAnnulled', '2020-06-10', { decisionId: 'd1', reason: 'r' }, 'annul');
    moveDecision(log, '2020-06-05');
    const final = ledgerFinal(foldLedger(log.events));
    expect(final.decisions.get('d1')?.annulled?.at).toBe('2020-06-10');
  });

  it('given a retroactive annulment of a retracted decision, then it keeps its date and annuls nothing', () => {
    const log = history();
    log.add('DecisionAnnulled', '2020-06-01', { decisionId: 'd1', reason: 'r', retroactive: true }, 'annul');
    log.now('EventRetracted', {
      retractedEventId: 'dec-d1',
      retractedType: 'DecisionRecorded',
      reason: 'never taken',
    });
    const final = ledgerFinal(foldLedger(log.events));
    expect(final.warnings.map((w) => `${w.eventId} ${w.code}`)).toEqual(['annul decision_not_found']);
  });

  it('folds the same whether the log is folded at once or event by event', () => {
    const log = history();
    log.add('DecisionAnnulled', '2020-06-01', { decisionId: 'd1', reason: 'r', retroactive: true }, 'annul');
    moveDecision(log, '2020-07-01');
    const whole = ledgerFinal(foldLedger(log.events));
    // Read after every append, so that each event goes through the cache's incremental path.
    let ledger = initialLedger();
    for (const e of log.events) {
      ledger = evolveLedger(ledger, e);
      ledgerFinal(ledger);
    }
    expect(ledgerFinal(ledger).decisions.get('d1')).toEqual(whole.decisions.get('d1'));
  });
});
