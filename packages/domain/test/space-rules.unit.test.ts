import { describe, expect, it } from 'vitest';
import {
  type DecisionsCommand,
  decideDecisions,
  decideMembership,
  decideWorkingGroups,
  foldLedger,
  ledgerFinal,
  type MembershipCommand,
  rulesInForce,
  type WorkingGroupsCommand,
} from '../src/index.ts';
import {
  deciderSpec,
  enrolled,
  type Given,
  joined,
  opened,
  recordedNow,
  registered,
} from './decider-spec.ts';
import { LogBuilder } from './fixtures.ts';

const wg = deciderSpec<WorkingGroupsCommand>(decideWorkingGroups);
const decisions = deciderSpec<DecisionsCommand>(decideDecisions);

const ABSOLUTE = { quorum: 0.4, majority: 'absolute' } as const;
const SIMPLE = { quorum: 0.5, majority: 'simple' } as const;

/** Space `s` (simple majority, quorum 0.5) with a, b, c, d enrolled from 2020-03-01. */
const space: Given[] = [
  registered,
  ...['b', 'c', 'd'].map((o) => joined(o, '2020-02-01')),
  opened('s', '2020-03-01'),
  ...['a', 'b', 'c', 'd'].map((o) => enrolled('s', o, '2020-03-01')),
];
const rulesChanged =
  (at: string, rules: { quorum: number; majority: string }, eventId = 'rules-1'): Given =>
  (log) => {
    log.add('SpaceRulesChanged', at, { spaceId: 's', rules }, eventId);
  };
const change = (over: Partial<Extract<WorkingGroupsCommand, { type: 'ChangeSpaceRules' }>> = {}) =>
  ({
    type: 'ChangeSpaceRules',
    spaceId: 's',
    rules: ABSOLUTE,
    occurredAt: '2021-01-01',
    ...over,
  }) as WorkingGroupsCommand;
/** 2 present of 4, 1 for and 1 abstaining: adopted by simple majority, rejected by absolute. */
const vote = (occurredAt: string, decisionId = 'd1'): DecisionsCommand => ({
  type: 'RecordDecision',
  decisionId,
  spaceId: 's',
  title: 'T',
  kind: 'general',
  present: ['a', 'b'],
  vote: { for: 1, against: 0, abstain: 1 },
  occurredAt,
});
const decided = (at: string, rules: typeof SIMPLE | typeof ABSOLUTE, outcome: string): Given => {
  return (log) => {
    log.add(
      'DecisionRecorded',
      at,
      {
        decisionId: 'd0',
        spaceId: 's',
        present: ['a', 'b'],
        title: 'T',
        kind: 'general',
        vote: { for: 1, against: 0, abstain: 1 },
        rules,
        enrolledCount: 4,
        outcome,
      },
      'decide-d0',
    );
  };
};

describe('ChangeSpaceRules', () => {
  it('given an open space, when its rules change, then SpaceRulesChanged carries the new rules and the reason', () =>
    wg
      .given(...space)
      .when(change({ reason: 'new bylaws', evidence: { source: 'minutes' } }))
      .thenEmits([
        {
          type: 'SpaceRulesChanged',
          data: { spaceId: 's', rules: ABSOLUTE, reason: 'new bylaws' },
          occurredAt: '2021-01-01',
          evidence: { source: 'minutes' },
        },
      ]));
  it('404 for an unknown space', () =>
    wg
      .given(...space)
      .when(change({ spaceId: 'z' }))
      .thenThrows('space_not_found', 404));
  it('422 before the space opened', () =>
    wg
      .given(...space)
      .when(change({ occurredAt: '2020-02-15' }))
      .thenThrows('before_space_opened', 422));
  it('409 once the space is closed', () =>
    wg
      .given(...space, (l) => l.add('SpaceClosed', '2020-12-01', { spaceId: 's' }))
      .when(change())
      .thenThrows('space_closed', 409));
  it('422 in the future', () =>
    wg
      .given(...space)
      .when(change({ occurredAt: '2030-01-01' }))
      .thenThrows('occurred_in_future', 422));
  it('given a decision recorded after the date under the old rules, when the rules change before it, then 422 naming it', () => {
    const err = wg
      .given(...space, decided('2021-06-01', SIMPLE, 'adopted'))
      .when(change())
      .thenThrows('contradicts_history', 422);
    const conflicts = (err.details?.conflicts ?? []) as { eventId: string; code: string }[];
    expect(conflicts.map((c) => `${c.eventId} ${c.code}`)).toEqual(['decide-d0 decision_rules_not_in_force']);
  });
  it('given a decision dated before the change, then the change is accepted', () =>
    wg
      .given(...space, decided('2020-06-01', SIMPLE, 'adopted'))
      .when(change())
      .thenEmits([
        { type: 'SpaceRulesChanged', data: { spaceId: 's', rules: ABSOLUTE }, occurredAt: '2021-01-01' },
      ]));
  it('given a decision taken under a change, when the change is retracted, then 422 naming the decision', () => {
    const err = deciderSpec<MembershipCommand>(decideMembership)
      .given(...space, rulesChanged('2021-01-01', ABSOLUTE), decided('2021-06-01', ABSOLUTE, 'rejected'))
      .when({ type: 'RetractEvent', eventId: 'rules-1', reason: 'never voted' })
      .thenThrows('contradicts_history', 422);
    const conflicts = (err.details?.conflicts ?? []) as { eventId: string; code: string }[];
    expect(conflicts.map((c) => `${c.eventId} ${c.code}`)).toEqual(['decide-d0 decision_rules_not_in_force']);
  });
});

describe('rules in force at a date', () => {
  it('are the latest change at or before it, else the opening rules; null before the space opened', () => {
    const log = new LogBuilder('p');
    for (const g of [
      ...space,
      rulesChanged('2021-01-01', ABSOLUTE, 'r1'),
      rulesChanged('2022-01-01', { quorum: 0.75, majority: 'unanimity' }, 'r2'),
    ])
      g(log);
    const s = ledgerFinal(foldLedger(log.events)).spaces.get('s');
    if (!s) throw new Error('no space');
    expect(rulesInForce(s, '2020-02-01')).toBeNull();
    expect(rulesInForce(s, '2020-03-01')).toEqual(SIMPLE);
    expect(rulesInForce(s, '2020-12-31T22:59:59.999Z')).toEqual(SIMPLE);
    expect(rulesInForce(s, '2021-01-01')).toEqual(ABSOLUTE);
    expect(rulesInForce(s, '2021-12-31')).toEqual(ABSOLUTE);
    expect(rulesInForce(s, '2023-01-01')).toEqual({ quorum: 0.75, majority: 'unanimity' });
    expect(s.rules).toEqual({ quorum: 0.75, majority: 'unanimity' });
    expect(s.rulesHistory.map((r) => [r.from, r.eventId])).toEqual([
      ['2020-03-01', 'open-s'],
      ['2021-01-01', 'r1'],
      ['2022-01-01', 'r2'],
    ]);
  });
  it('a change of a closed or unknown space is skipped', () => {
    const log = new LogBuilder('p');
    for (const g of [...space, (l: LogBuilder) => l.add('SpaceClosed', '2020-12-01', { spaceId: 's' })])
      g(log);
    rulesChanged('2021-01-01', ABSOLUTE, 'late')(log);
    log.add('SpaceRulesChanged', '2021-01-01', { spaceId: 'z', rules: ABSOLUTE }, 'nowhere');
    const final = ledgerFinal(foldLedger(log.events));
    expect(final.warnings.map((w) => `${w.eventId} ${w.code}`)).toEqual([
      'late space_closed',
      'nowhere space_not_found',
    ]);
    expect(final.spaces.get('s')?.rules).toEqual(SIMPLE);
  });
});

describe('RecordDecision under dated rules', () => {
  const changed = [...space, rulesChanged('2021-01-01', ABSOLUTE)];
  it('given the rules changed on 2021-01-01, when a decision is dated before, then the opening rules decide it', () =>
    decisions
      .given(...changed)
      .when(vote('2020-12-31'))
      .thenEmits([
        {
          type: 'DecisionRecorded',
          data: {
            decisionId: 'd1',
            spaceId: 's',
            present: ['a', 'b'],
            title: 'T',
            kind: 'general',
            vote: { for: 1, against: 0, abstain: 1 },
            rules: SIMPLE,
            enrolledCount: 4,
            outcome: 'adopted',
          },
          occurredAt: '2020-12-31',
        },
      ]));
  it('given the rules changed on 2021-01-01, when a decision is dated that day or after, then the new rules decide it', () => {
    for (const at of ['2021-01-01', '2021-03-01']) {
      decisions
        .given(...changed)
        .when(vote(at))
        .thenEmits([
          {
            type: 'DecisionRecorded',
            data: {
              decisionId: 'd1',
              spaceId: 's',
              present: ['a', 'b'],
              title: 'T',
              kind: 'general',
              vote: { for: 1, against: 0, abstain: 1 },
              rules: ABSOLUTE,
              enrolledCount: 4,
              outcome: 'rejected',
            },
            occurredAt: at,
          },
        ]);
    }
  });
  it('given a decision moved past the change by a correction, then it is re-derived under the new rules', () =>
    decisions
      .given(...changed, decided('2020-06-01', SIMPLE, 'adopted'))
      .when({
        type: 'CorrectDecision',
        decisionId: 'd0',
        fields: { decidedAt: '2021-02-01' },
        reason: 'typo',
      })
      .thenEmits([
        recordedNow('DecisionCorrected', {
          correctsEventId: 'decide-d0',
          decisionId: 'd0',
          fields: { decidedAt: '2021-02-01' },
          reason: 'typo',
          rules: ABSOLUTE,
          enrolledCount: 4,
          outcome: 'rejected',
        }),
      ]));
});
