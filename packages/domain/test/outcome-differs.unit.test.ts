import { describe, expect, it } from 'vitest';
import {
  type DecisionsCommand,
  decideDecisions,
  decideWorkingGroups,
  foldLedger,
  ledgerFinal,
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
const SIMPLE = { quorum: 0.5, majority: 'simple' } as const;

/** Space `s` (quorum 0.5, simple majority) with a, b, c, d enrolled from 2020-03-01; e, f members. */
const space: Given[] = [
  registered,
  ...['b', 'c', 'd', 'e', 'f'].map((o) => joined(o, '2020-02-01')),
  opened('s', '2020-03-01'),
  ...['a', 'b', 'c', 'd'].map((o) => enrolled('s', o, '2020-03-01')),
];
/** d1 on 2021-06-01: a and b present of four enrolled, 2 for — adopted, as the decider derives it. */
const decided: Given = (log) => {
  log.add(
    'DecisionRecorded',
    '2021-06-01',
    {
      decisionId: 'd1',
      spaceId: 's',
      present: ['a', 'b'],
      title: 'T',
      kind: 'general',
      vote: { for: 2, against: 0, abstain: 0 },
      rules: SIMPLE,
      enrolledCount: 4,
      outcome: 'adopted',
    },
    'decide-d1',
  );
};
/** e and f enrolled on 2020-04-01, recorded after d1: six enrolled at its date, two present is no quorum. */
const backdatedEnrolments: Given[] = [enrolled('s', 'e', '2020-04-01'), enrolled('s', 'f', '2020-04-01')];

function fold(...history: Given[]) {
  const log = new LogBuilder('p');
  for (const h of history) h(log);
  return ledgerFinal(foldLedger(log.events));
}
const outcomeWarnings = (history: Given[]) =>
  fold(...history).warnings.filter((w) => w.code === 'outcome_differs');

describe('outcome_differs: the stored outcome read again on the history as known', () => {
  it('given a decision whose outcome follows from the history, then no warning', () =>
    expect(outcomeWarnings([...space, decided])).toEqual([]));

  it('given enrolments backdated before it that break its quorum, then the fold warns and keeps the stored outcome', () => {
    const state = fold(...space, decided, ...backdatedEnrolments);
    expect(state.warnings.filter((w) => w.code === 'outcome_differs')).toEqual([
      {
        eventId: 'decide-d1',
        type: 'DecisionRecorded',
        code: 'outcome_differs',
        message: expect.stringContaining('recorded as adopted, but the vote reads no_quorum'),
        details: {
          decisionId: 'd1',
          stored: 'adopted',
          derived: 'no_quorum',
          present: 2,
          enrolledCount: 6,
          rules: SIMPLE,
        },
      },
    ]);
    expect(state.decisions.get('d1')?.outcome).toBe('adopted');
  });

  it('given enrolments dated after the decision, then no warning', () =>
    expect(
      outcomeWarnings([
        ...space,
        decided,
        enrolled('s', 'e', '2021-07-01'),
        enrolled('s', 'f', '2021-07-01'),
      ]),
    ).toEqual([]));

  it('given a departure backdated before it, then the outcome read on one enrolled fewer still holds: no warning', () =>
    // Two present of three enrolled: the quorum still holds, the vote still passes.
    expect(
      outcomeWarnings([...space, decided, (l) => l.add('MemberLeft', '2020-05-01', { organisationId: 'd' })]),
    ).toEqual([]));

  it('given a rules change backdated before it that it no longer meets, then both warnings stand', () => {
    const history: Given[] = [
      ...space,
      decided,
      (l) =>
        l.add('SpaceRulesChanged', '2021-01-01', {
          spaceId: 's',
          rules: { quorum: 0.75, majority: 'simple' },
        }),
    ];
    const codes = fold(...history)
      .warnings.filter((w) => w.eventId === 'decide-d1')
      .map((w) => w.code);
    expect(codes).toEqual(['decision_rules_not_in_force', 'outcome_differs']);
  });

  it('given a correction of the decision that meets the new quorum, then the warning is gone', () =>
    expect(
      outcomeWarnings([
        ...space,
        decided,
        ...backdatedEnrolments,
        (l) =>
          l.now('DecisionCorrected', {
            correctsEventId: 'decide-d1',
            decisionId: 'd1',
            fields: { present: ['a', 'b', 'c'], vote: { for: 3, against: 0, abstain: 0 } },
            reason: 'c was there',
            rules: SIMPLE,
            enrolledCount: 6,
            outcome: 'adopted',
          }),
      ]),
    ).toEqual([]));
});

describe('outcome_differs never refuses a write', () => {
  it('given a decision, when an enrolment is backdated before it and breaks its quorum, then the enrolment is recorded', () =>
    wg
      .given(...space, decided, enrolled('s', 'e', '2020-04-01'))
      .when({ type: 'EnrolMember', spaceId: 's', organisationId: 'f', occurredAt: '2020-04-01' })
      .thenEmits([
        {
          type: 'MemberEnrolled',
          data: { spaceId: 's', organisationId: 'f', role: 'member' },
          occurredAt: '2020-04-01',
        },
      ]));

  it('given a decision that already warns, when its title is corrected, then the correction stores the outcome derived on the history as known', () =>
    decisions
      .given(...space, decided, ...backdatedEnrolments)
      .when({ type: 'CorrectDecision', decisionId: 'd1', fields: { title: 'X' }, reason: 'typo' })
      .thenEmits([
        recordedNow('DecisionCorrected', {
          correctsEventId: 'decide-d1',
          decisionId: 'd1',
          fields: { title: 'X' },
          reason: 'typo',
          rules: SIMPLE,
          enrolledCount: 6,
          outcome: 'no_quorum',
        }),
      ]));
});
