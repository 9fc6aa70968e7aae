import { describe, expect, it } from 'vitest';
import { deriveOutcome } from '../src/decisions/outcome.ts';
import { type DecisionsCommand, decideDecisions, type EventToAppend } from '../src/index.ts';
import {
  deciderSpec,
  enrolled,
  type Given,
  joined,
  met,
  opened,
  recordedNow,
  registered,
} from './decider-spec.ts';

const spec = deciderSpec<DecisionsCommand>(decideDecisions);
const all6 = ['a', 'b', 'c', 'd', 'e', 'f'];
/** A governance council of six under two-thirds majority, like val-coop's conseil. */
const council: Given[] = [
  registered,
  ...['b', 'c', 'd', 'e', 'f'].map((o) => joined(o, '2020-02-01')),
  opened('conseil', '2020-03-01', 'two_thirds', 'governance'),
  ...all6.map((o) => enrolled('conseil', o, '2020-03-01')),
];
const record = (over: Partial<Extract<DecisionsCommand, { type: 'RecordDecision' }>>): DecisionsCommand => ({
  type: 'RecordDecision',
  decisionId: 'd1',
  spaceId: 'conseil',
  title: 'T',
  kind: 'general',
  vote: { for: 1, against: 0, abstain: 0 },
  occurredAt: '2020-06-01',
  ...over,
});
const TWO_THIRDS = { quorum: 0.5, majority: 'two_thirds' } as const;
/**
 * A DecisionRecorded in the council with `record`'s defaults (d1, titled T), under the council's
 * rules with its six enrolled; the rest of its data (kind, meeting, present, vote, outcome) given.
 */
const councilDecision = (occurredAt: string, data: Record<string, unknown>): EventToAppend => ({
  type: 'DecisionRecorded',
  data: { decisionId: 'd1', spaceId: 'conseil', title: 'T', rules: TWO_THIRDS, enrolledCount: 6, ...data },
  occurredAt,
});

describe('RecordDecision: the val-coop outcomes', () => {
  it('priorites-territoriales: adopted, copil 2 of 2 present, simple majority', () =>
    spec
      .given(
        registered,
        joined('b', '2020-02-01'),
        opened('copil', '2020-02-01'),
        enrolled('copil', 'a', '2020-02-01'),
        enrolled('copil', 'b', '2020-02-01'),
        met('copil', 'm', ['a', 'b'], '2020-03-01'),
      )
      .when(
        record({
          spaceId: 'copil',
          meetingId: 'm',
          kind: 'priority',
          vote: { for: 2, against: 0, abstain: 0 },
          occurredAt: '2020-03-01',
        }),
      )
      .thenEmits([
        {
          type: 'DecisionRecorded',
          data: {
            decisionId: 'd1',
            spaceId: 'copil',
            meetingId: 'm',
            present: ['a', 'b'],
            title: 'T',
            kind: 'priority',
            vote: { for: 2, against: 0, abstain: 0 },
            rules: { quorum: 0.5, majority: 'simple' },
            enrolledCount: 2,
            outcome: 'adopted',
          },
          occurredAt: '2020-03-01',
        },
      ]));
  it('budget-2020: no_quorum, 2 of 6 present', () =>
    spec
      .given(...council, met('conseil', 'm', ['a', 'b'], '2020-06-01'))
      .when(record({ meetingId: 'm', kind: 'budget', vote: { for: 2, against: 0, abstain: 0 } }))
      .thenEmits([
        councilDecision('2020-06-01', {
          meetingId: 'm',
          present: ['a', 'b'],
          kind: 'budget',
          vote: { for: 2, against: 0, abstain: 0 },
          outcome: 'no_quorum',
        }),
      ]));
  it('statuts-scic: adopted 5-1-0 under two_thirds', () =>
    spec
      .given(...council, met('conseil', 'm', all6, '2020-06-01'))
      .when(
        record({
          meetingId: 'm',
          kind: 'shared_legal_structure',
          subject: { step: 'statutes_adopted', legalForm: 'scic' },
          vote: { for: 5, against: 1, abstain: 0 },
        }),
      )
      .thenEmits([
        councilDecision('2020-06-01', {
          meetingId: 'm',
          present: all6,
          kind: 'shared_legal_structure',
          subject: { step: 'statutes_adopted', legalForm: 'scic' },
          vote: { for: 5, against: 1, abstain: 0 },
          outcome: 'adopted',
        }),
      ]));
  it('extension: rejected 2-3-1', () =>
    spec
      .given(...council, met('conseil', 'm', all6, '2020-06-01'))
      .when(record({ meetingId: 'm', vote: { for: 2, against: 3, abstain: 1 } }))
      .thenEmits([
        councilDecision('2020-06-01', {
          meetingId: 'm',
          present: all6,
          kind: 'general',
          vote: { for: 2, against: 3, abstain: 1 },
          outcome: 'rejected',
        }),
      ]));
});

describe('RecordDecision: refusals', () => {
  it('422 tally_exceeds_present', () =>
    spec
      .given(...council)
      .when(record({ present: ['a'], vote: { for: 3, against: 0, abstain: 0 } }))
      .thenThrows('tally_exceeds_present', 422));
  it('422 present members not enrolled, naming them', () =>
    spec
      .given(...council)
      .when(record({ present: ['a', 'z'] }))
      .thenThrows('attendees_not_enrolled', 422, { offenders: ['z'] }));
  it('422 present members that are not the attendees of the meeting named, naming both sides', () =>
    spec
      .given(...council, met('conseil', 'm', ['a', 'b', 'c', 'd'], '2020-06-01'))
      .when(record({ meetingId: 'm', present: ['a', 'b', 'c', 'e'] }))
      .thenThrows('present_differs_from_meeting', 422, {
        meetingId: 'm',
        notAttendees: ['e'],
        missing: ['d'],
      }));
  it('present members listed as the meeting’s attendees, in any order, are accepted', () =>
    spec
      .given(...council, met('conseil', 'm', ['a', 'b', 'c', 'd'], '2020-06-01'))
      .when(record({ meetingId: 'm', present: ['d', 'c', 'b', 'a'] }))
      .thenEmits([
        // The meeting's attendance is what is stored, in its order.
        councilDecision('2020-06-01', {
          meetingId: 'm',
          present: ['a', 'b', 'c', 'd'],
          kind: 'general',
          vote: { for: 1, against: 0, abstain: 0 },
          outcome: 'adopted',
        }),
      ]));
  it('422 without present members or meeting', () =>
    spec
      .given(...council)
      .when(record({}))
      .thenThrows('present_required', 422));
  it('404 unknown space', () =>
    spec
      .given(...council)
      .when(record({ spaceId: 'nope', present: ['a'] }))
      .thenThrows('space_not_found', 404));
  it('404 unknown meeting', () =>
    spec
      .given(...council)
      .when(record({ meetingId: 'nope' }))
      .thenThrows('meeting_not_found', 404));
  it('409 closed space', () =>
    spec
      .given(...council, (l) => l.add('SpaceClosed', '2020-05-01', { spaceId: 'conseil' }))
      .when(record({ present: ['a'] }))
      .thenThrows('space_closed', 409));
  it('422 before the space opened', () =>
    spec
      .given(...council)
      .when(record({ present: ['a'], occurredAt: '2020-02-15' }))
      .thenThrows('before_space_opened', 422));
  it('422 a shared_legal_structure decision without its subject', () =>
    spec
      .given(...council)
      .when(record({ present: ['a'], kind: 'shared_legal_structure' }))
      .thenThrows('invalid_subject', 422));
  it('422 an admission decision without the organisation', () =>
    spec
      .given(...council)
      .when(
        record({ present: ['a'], kind: 'admission', subject: { step: 'study_opened', legalForm: 'scic' } }),
      )
      .thenThrows('invalid_subject', 422));
  it('409 an existing decision id', () =>
    spec
      .given(...council, (l) =>
        l.add('DecisionRecorded', '2020-06-01', {
          decisionId: 'd1',
          spaceId: 'conseil',
          present: ['a'],
          title: 'T',
          kind: 'general',
          vote: { for: 1, against: 0, abstain: 0 },
          rules: { quorum: 0.5, majority: 'two_thirds' },
          enrolledCount: 6,
          outcome: 'no_quorum',
        }),
      )
      .when(record({ present: ['a'] }))
      .thenThrows('decision_already_exists', 409));
  it('422 in the future', () =>
    spec
      .given(...council)
      .when(record({ present: ['a'], occurredAt: '2030-01-01' }))
      .thenThrows('occurred_in_future', 422));
});

describe('CorrectDecision: a decision taken at a meeting', () => {
  const atMeeting: Given = (l) => {
    l.add(
      'DecisionRecorded',
      '2020-06-01',
      {
        decisionId: 'd1',
        spaceId: 'conseil',
        meetingId: 'm',
        present: all6,
        title: 'T',
        kind: 'general',
        vote: { for: 6, against: 0, abstain: 0 },
        rules: { quorum: 0.5, majority: 'two_thirds' },
        enrolledCount: 6,
        outcome: 'adopted',
      },
      'dec-d1',
    );
  };
  it('422 before_meeting: decidedAt cannot be moved before the meeting was held', () =>
    spec
      .given(...council, met('conseil', 'm', all6, '2020-06-01'), atMeeting)
      .when({ type: 'CorrectDecision', decisionId: 'd1', fields: { decidedAt: '2020-05-01' }, reason: 'r' })
      .thenThrows('before_meeting', 422, { meetingId: 'm' }));
  it('decidedAt moved later than the meeting is accepted', () =>
    spec
      .given(...council, met('conseil', 'm', all6, '2020-06-01'), atMeeting)
      .when({ type: 'CorrectDecision', decisionId: 'd1', fields: { decidedAt: '2020-06-02' }, reason: 'r' })
      .thenEmits([
        recordedNow('DecisionCorrected', {
          correctsEventId: 'dec-d1',
          decisionId: 'd1',
          fields: { decidedAt: '2020-06-02' },
          reason: 'r',
          rules: TWO_THIRDS,
          enrolledCount: 6,
          outcome: 'adopted',
        }),
      ]));
});

describe('CorrectDecision / AnnulDecision', () => {
  const recorded: Given = (l) => {
    l.add(
      'DecisionRecorded',
      '2020-06-01',
      {
        decisionId: 'd1',
        spaceId: 'conseil',
        present: ['a', 'b'],
        title: 'T',
        kind: 'budget',
        vote: { for: 2, against: 0, abstain: 0 },
        rules: { quorum: 0.5, majority: 'two_thirds' },
        enrolledCount: 6,
        outcome: 'no_quorum',
      },
      'dec-d1',
    );
  };
  it('re-derives the outcome from the corrected present list', () =>
    spec
      .given(...council, recorded)
      .when({
        type: 'CorrectDecision',
        decisionId: 'd1',
        fields: { present: ['a', 'b', 'c'] },
        reason: 'minutes',
      })
      .thenEmits([
        recordedNow('DecisionCorrected', {
          correctsEventId: 'dec-d1',
          decisionId: 'd1',
          fields: { present: ['a', 'b', 'c'] },
          reason: 'minutes',
          rules: TWO_THIRDS,
          enrolledCount: 6,
          outcome: 'adopted',
        }),
      ]));
  it('404 correcting an unknown or retracted decision', () => {
    spec
      .given(...council)
      .when({ type: 'CorrectDecision', decisionId: 'd1', fields: { title: 'X' }, reason: 'r' })
      .thenThrows('decision_not_found', 404);
    spec
      .given(...council, recorded, (l) =>
        l.now('EventRetracted', {
          retractedEventId: 'dec-d1',
          retractedType: 'DecisionRecorded',
          reason: 'r',
        }),
      )
      .when({ type: 'CorrectDecision', decisionId: 'd1', fields: { title: 'X' }, reason: 'r' })
      .thenThrows('decision_not_found', 404);
  });
  it('422 a corrected tally above the present count', () =>
    spec
      .given(...council, recorded)
      .when({
        type: 'CorrectDecision',
        decisionId: 'd1',
        fields: { vote: { for: 3, against: 0, abstain: 0 } },
        reason: 'r',
      })
      .thenThrows('tally_exceeds_present', 422));
  it('annuls once', () => {
    spec
      .given(...council, recorded)
      .when({ type: 'AnnulDecision', decisionId: 'd1', reason: 'illegal', occurredAt: '2020-07-01' })
      .thenEmits([
        { type: 'DecisionAnnulled', data: { decisionId: 'd1', reason: 'illegal' }, occurredAt: '2020-07-01' },
      ]);
    spec
      .given(...council, recorded, (l) =>
        l.add('DecisionAnnulled', '2020-07-01', { decisionId: 'd1', reason: 'r' }),
      )
      .when({ type: 'AnnulDecision', decisionId: 'd1', reason: 'again', occurredAt: '2020-08-01' })
      .thenThrows('already_annulled', 409);
    spec
      .given(...council)
      .when({ type: 'AnnulDecision', decisionId: 'd1', reason: 'r', occurredAt: '2020-08-01' })
      .thenThrows('decision_not_found', 404);
    spec
      .given(...council, recorded)
      .when({ type: 'AnnulDecision', decisionId: 'd1', reason: 'r', occurredAt: '2020-05-01' })
      .thenThrows('before_decision', 422);
  });
  it('given a decision, when it is annulled with no date, then the annulment is retroactive: at the decision date', () =>
    spec
      .given(...council, recorded)
      .when({ type: 'AnnulDecision', decisionId: 'd1', reason: 'illegal' })
      .thenEmits([
        {
          type: 'DecisionAnnulled',
          data: { decisionId: 'd1', reason: 'illegal', retroactive: true },
          occurredAt: '2020-06-01',
        },
      ]));
  it('given a decision whose date was corrected, when it is annulled with no date, then at its corrected date', () =>
    spec
      .given(...council, recorded, (l) =>
        l.now('DecisionCorrected', {
          correctsEventId: 'dec-d1',
          decisionId: 'd1',
          fields: { decidedAt: '2020-06-15' },
          reason: 'typo',
          rules: { quorum: 0.5, majority: 'two_thirds' },
          enrolledCount: 6,
          outcome: 'no_quorum',
        }),
      )
      .when({ type: 'AnnulDecision', decisionId: 'd1', reason: 'illegal' })
      .thenEmits([
        {
          type: 'DecisionAnnulled',
          data: { decisionId: 'd1', reason: 'illegal', retroactive: true },
          occurredAt: '2020-06-15',
        },
      ]));
  it('given a decision annulled retroactively, when it is annulled again, then 409', () =>
    spec
      .given(...council, recorded, (l) =>
        l.add('DecisionAnnulled', '2020-06-01', { decisionId: 'd1', reason: 'r', retroactive: true }),
      )
      .when({ type: 'AnnulDecision', decisionId: 'd1', reason: 'again' })
      .thenThrows('already_annulled', 409));
});

describe('deriveOutcome', () => {
  const r = (majority: 'simple' | 'absolute' | 'two_thirds' | 'unanimity' | 'consensus', quorum = 0.5) => ({
    quorum,
    majority,
  });
  const t = (f: number, a: number, ab: number) => ({ for: f, against: a, abstain: ab });
  it.each([
    // quorum edges
    ['exactly at quorum (3 of 6)', r('simple'), 6, 3, t(2, 1, 0), 'adopted'],
    ['just below quorum (2 of 6)', r('simple'), 6, 2, t(2, 0, 0), 'no_quorum'],
    ['odd size at quorum (3 of 5 ≥ 2.5)', r('simple'), 5, 3, t(2, 1, 0), 'adopted'],
    ['below quorum (2 of 5)', r('simple'), 5, 2, t(2, 0, 0), 'no_quorum'],
    [
      'quorum 2/3 of 3 with 2 present',
      { quorum: 2 / 3, majority: 'simple' as const },
      3,
      2,
      t(2, 0, 0),
      'adopted',
    ],
    ['empty space', r('simple'), 0, 0, t(0, 0, 0), 'no_quorum'],
    // simple
    ['simple tie', r('simple'), 4, 4, t(2, 2, 0), 'rejected'],
    ['simple one more', r('simple'), 4, 4, t(2, 1, 1), 'adopted'],
    ['simple all abstain', r('simple'), 4, 4, t(0, 0, 4), 'rejected'],
    // absolute
    ['absolute exactly half', r('absolute'), 6, 6, t(3, 0, 3), 'rejected'],
    ['absolute more than half', r('absolute'), 6, 6, t(4, 2, 0), 'adopted'],
    ['absolute half of present, not of enrolled', r('absolute'), 8, 4, t(3, 0, 1), 'adopted'],
    // two thirds
    ['two_thirds exactly 2/3', r('two_thirds'), 6, 6, t(4, 2, 0), 'adopted'],
    ['two_thirds just below', r('two_thirds'), 5, 5, t(3, 2, 0), 'rejected'],
    ['two_thirds abstentions not counted', r('two_thirds'), 6, 6, t(2, 1, 3), 'adopted'],
    ['two_thirds 5-1-0', r('two_thirds'), 6, 6, t(5, 1, 0), 'adopted'],
    ['two_thirds 2-3-1', r('two_thirds'), 6, 6, t(2, 3, 1), 'rejected'],
    ['two_thirds nobody for', r('two_thirds'), 6, 6, t(0, 0, 6), 'rejected'],
    // unanimity
    ['unanimity all for', r('unanimity'), 3, 3, t(3, 0, 0), 'adopted'],
    ['unanimity one abstention', r('unanimity'), 3, 3, t(2, 0, 1), 'rejected'],
    ['unanimity one against', r('unanimity'), 3, 3, t(2, 1, 0), 'rejected'],
    // consensus
    [
      'consensus no objection',
      r('consensus'),
      4,
      3,
      { method: 'consensus' as const, objections: 0 },
      'adopted',
    ],
    [
      'consensus one objection',
      r('consensus'),
      4,
      3,
      { method: 'consensus' as const, objections: 1 },
      'rejected',
    ],
    ['consensus rule, tally without against', r('consensus'), 4, 3, t(2, 0, 1), 'adopted'],
    ['consensus rule, tally with against', r('consensus'), 4, 3, t(2, 1, 0), 'rejected'],
    [
      'consensus vote without quorum',
      r('consensus'),
      6,
      1,
      { method: 'consensus' as const, objections: 0 },
      'no_quorum',
    ],
  ])('%s', (_name, rules, enrolled, present, vote, outcome) => {
    expect(deriveOutcome(rules, enrolled, present, vote)).toBe(outcome);
  });
});

describe('malformed input (hostile-test defect 8b)', () => {
  it('422 duplicate_present names the member listed twice', () =>
    spec
      .given(...council)
      .when(record({ present: ['a', 'c', 'b', 'c', 'a', 'a'] }))
      .thenThrows('duplicate_present', 422, { duplicates: ['a', 'c'] }));
  it('a meeting stored with an attendee twice, cited by a decision, is refused naming that attendee', () => {
    const err = spec
      .given(...council, met('conseil', 'm', ['a', 'b', 'b'], '2020-06-01'))
      .when(record({ meetingId: 'm' }))
      .thenThrows('duplicate_present', 422, { duplicates: ['b'] });
    expect(err.message).toContain('b');
  });
});

describe('malformed input (hostile-test defect 8j)', () => {
  const meeting = met('conseil', 'm', all6, '2020-06-01');
  it('a decision citing a meeting may be dated on its day or up to 92 days after it', () => {
    const atMeeting = (occurredAt: string) =>
      councilDecision(occurredAt, {
        meetingId: 'm',
        present: all6,
        kind: 'general',
        vote: { for: 1, against: 0, abstain: 0 },
        outcome: 'adopted',
      });
    spec
      .given(...council, meeting)
      .when(record({ meetingId: 'm', occurredAt: '2020-06-01' }))
      .thenEmits([atMeeting('2020-06-01')]);
    spec
      .given(...council, meeting)
      .when(record({ meetingId: 'm', occurredAt: '2020-06-01T21:30:00+02:00' }))
      .thenEmits([atMeeting('2020-06-01T21:30:00+02:00')]);
    // 2020-06-01 + 92 days = 2020-09-01
    spec
      .given(...council, meeting)
      .when(record({ meetingId: 'm', occurredAt: '2020-09-01' }))
      .thenEmits([atMeeting('2020-09-01')]);
  });
  it('422 long_after_meeting beyond, naming the meeting and both dates', () => {
    const err = spec
      .given(...council, meeting)
      .when(record({ meetingId: 'm', occurredAt: '2020-09-02' }))
      .thenThrows('long_after_meeting', 422, {
        meetingId: 'm',
        heldAt: '2020-06-01',
        decidedAt: '2020-09-02',
        maxDays: 92,
      });
    expect(err.message).toContain('2020-06-01');
    expect(err.message).toContain('2020-09-02');
    // An instant counts by its Paris day: 23:30 UTC on 1 September is 2 September in Paris.
    spec
      .given(...council, meeting)
      .when(record({ meetingId: 'm', occurredAt: '2020-09-01T23:30:00Z' }))
      .thenThrows('long_after_meeting', 422);
  });
  it('a correction moving the date past the bound is refused; one leaving the date alone is not', () => {
    const atMeeting: Given = (l) => {
      l.add(
        'DecisionRecorded',
        '2021-06-01',
        {
          decisionId: 'd1',
          spaceId: 'conseil',
          meetingId: 'm',
          present: all6,
          title: 'T',
          kind: 'general',
          vote: { for: 6, against: 0, abstain: 0 },
          rules: { quorum: 0.5, majority: 'two_thirds' },
          enrolledCount: 6,
          outcome: 'adopted',
        },
        'dec-d1',
      );
    };
    spec
      .given(...council, meeting, atMeeting)
      .when({ type: 'CorrectDecision', decisionId: 'd1', fields: { decidedAt: '2020-12-01' }, reason: 'r' })
      .thenThrows('long_after_meeting', 422, {
        meetingId: 'm',
        heldAt: '2020-06-01',
        decidedAt: '2020-12-01',
        maxDays: 92,
      });
    // Recorded a year after its meeting before the bound existed: its vote can still be corrected.
    spec
      .given(...council, meeting, atMeeting)
      .when({
        type: 'CorrectDecision',
        decisionId: 'd1',
        fields: { vote: { for: 5, against: 1, abstain: 0 } },
        reason: 'r',
      })
      .thenEmits([
        recordedNow('DecisionCorrected', {
          correctsEventId: 'dec-d1',
          decisionId: 'd1',
          fields: { vote: { for: 5, against: 1, abstain: 0 } },
          reason: 'r',
          rules: TWO_THIRDS,
          enrolledCount: 6,
          outcome: 'adopted',
        }),
      ]);
  });
});
