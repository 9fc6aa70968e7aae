import { describe, expect, it } from 'vitest';
import {
  type DecisionsCommand,
  type DomainError,
  decideDecisions,
  decideMembership,
  decideWorkingGroups,
  type EventToAppend,
  foldLedger,
  ledgerFinal,
  type MembershipCommand,
  type WorkingGroupsCommand,
} from '../src/index.ts';
import { deciderSpec, type Given, joined, met, opened, recordedNow, registered } from './decider-spec.ts';
import { LogBuilder, RULES } from './fixtures.ts';

const membership = deciderSpec<MembershipCommand>(decideMembership);
const groups = deciderSpec<WorkingGroupsCommand>(decideWorkingGroups);
const decisions = deciderSpec<DecisionsCommand>(decideDecisions);

/** The conflicts a `contradicts_history` refusal names, as `eventId code` pairs. */
function conflictsOf(err: DomainError): string[] {
  const conflicts = err.details?.conflicts as { eventId: string; code: string; type: string }[];
  return conflicts.map((c) => `${c.eventId} ${c.code}`);
}

const enrolledAs =
  (eventId: string, spaceId: string, org: string, at: string): Given =>
  (log) => {
    log.add('MemberEnrolled', at, { spaceId, organisationId: org, role: 'member' }, eventId);
  };

const launched =
  (activityId: string, carriers: string[], at: string): Given =>
  (log) => {
    log.add('ActivityLaunched', at, { activityId, name: activityId, carriers }, `launch-${activityId}`);
  };

const entity =
  (at: string): Given =>
  (log) => {
    log.add('LegalEntityRegistered', at, { name: 'SCIC', legalForm: 'scic' }, 'entity');
  };

const admitted =
  (org: string, at: string): Given =>
  (log) => {
    log.add('AssociateAdmitted', at, { organisationId: org }, `admit-${org}`);
  };

const decided =
  (decisionId: string, present: string[], at: string, meetingId?: string): Given =>
  (log) => {
    log.add(
      'DecisionRecorded',
      at,
      {
        decisionId,
        spaceId: 's',
        ...(meetingId ? { meetingId } : {}),
        present,
        title: 'T',
        kind: 'general',
        vote: { for: present.length, against: 0, abstain: 0 },
        rules: RULES,
        enrolledCount: present.length,
        outcome: 'adopted',
      },
      `decide-${decisionId}`,
    );
  };

const correctJoin = (organisationId: string, joinedAt: string): MembershipCommand => ({
  type: 'CorrectMembership',
  organisationId,
  fields: { joinedAt },
  reason: 'date lue sur la convention',
});

const retract = (eventId: string): MembershipCommand => ({ type: 'RetractEvent', eventId, reason: 'erreur' });

/** The MembershipCorrected that `correctJoin(organisationId, joinedAt)` must emit, naming the join it corrects. */
const joinCorrected = (correctsEventId: string, organisationId: string, joinedAt: string): EventToAppend =>
  recordedNow('MembershipCorrected', {
    correctsEventId,
    organisationId,
    fields: { joinedAt },
    reason: 'date lue sur la convention',
  });

/** The EventRetracted that `retract(eventId)` must emit, naming the retracted event's type. */
const retracted = (retractedEventId: string, retractedType: string): EventToAppend =>
  recordedNow('EventRetracted', { retractedEventId, retractedType, reason: 'erreur' });

/** b joins on 2020-02-01 and is enrolled in `s` on 2020-03-01 (event `enrol-b`). */
const bInSpace: Given[] = [
  registered,
  joined('b', '2020-02-01'),
  opened('s', '2020-02-01'),
  enrolledAs('enrol-a', 's', 'a', '2020-02-01'),
  enrolledAs('enrol-b', 's', 'b', '2020-03-01'),
];

describe('corrections and retractions never create a contradiction (hostile-test defect 3)', () => {
  describe('a join corrected to after the facts that need it is refused', () => {
    it('given b enrolled and attending a meeting, when b’s join moves past them, then 422 naming the enrolment and the meeting', () => {
      const err = membership
        .given(...bInSpace, met('s', 'm', ['a', 'b'], '2020-04-01'))
        .when(correctJoin('b', '2020-05-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['enrol-b not_a_member_at_date', 'meet-m attendees_not_enrolled']);
      expect(err.message).toContain('correction');
      expect(err.details?.conflicts).toEqual(
        expect.arrayContaining([expect.objectContaining({ eventId: 'meet-m', type: 'MeetingHeld' })]),
      );
    });

    it('given b carrying an activity, when b’s join moves past its launch, then 422 naming the activity', () => {
      const err = membership
        .given(registered, joined('b', '2020-02-01'), launched('garage', ['b'], '2020-03-01'))
        .when(correctJoin('b', '2020-04-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['launch-garage not_a_member_at_date']);
    });

    it('given b one of two carriers, when b’s join moves past the launch, then 422: the activity would lose a carrier', () => {
      const err = membership
        .given(registered, joined('b', '2020-02-01'), launched('garage', ['a', 'b'], '2020-03-01'))
        .when(correctJoin('b', '2020-04-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['launch-garage carriers_not_members']);
    });

    it('given b an associate, when b’s join moves past its admission, then 422 naming the admission', () => {
      const err = membership
        .given(registered, joined('b', '2020-02-01'), entity('2020-02-15'), admitted('b', '2020-03-01'))
        .when(correctJoin('b', '2020-04-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['admit-b not_a_member']);
    });

    it('given b present at a decision, when b’s join moves past it, then 422 naming the enrolment and the decision', () => {
      const err = membership
        .given(...bInSpace, decided('d1', ['a', 'b'], '2020-04-01'))
        .when(correctJoin('b', '2020-05-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['enrol-b not_a_member_at_date', 'decide-d1 present_not_enrolled']);
    });

    it('given the pilot role handed over to b, when b’s join moves past the handover, then 422', () => {
      const err = membership
        .given(registered, joined('b', '2020-02-01'), (l) =>
          l.add('PilotHandedOver', '2020-03-01', { organisationId: 'b', previousPilotId: 'a' }, 'handover'),
        )
        .when(correctJoin('b', '2020-04-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['handover not_a_member']);
    });
  });

  describe('the founding pilot', () => {
    it('given a PTCE registered on 2020-01-01 by a, when a’s join moves before it, then 422 before_registration', () =>
      membership
        .given(registered)
        .when(correctJoin('a', '2019-06-01'))
        .thenThrows('before_registration', 422, { registeredAt: '2020-01-01' }));

    it('given a enrolled on 2020-02-01, when a’s join (the registration) moves past it, then 422 naming the enrolment', () => {
      const err = membership
        .given(registered, opened('s', '2020-01-15'), enrolledAs('enrol-a', 's', 'a', '2020-02-01'))
        .when(correctJoin('a', '2020-03-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['open-s before_registration', 'enrol-a before_registration']);
    });

    it('given nothing before the new date, when a’s join moves later, then it is accepted', () =>
      membership
        .given(registered, joined('b', '2020-06-01'))
        .when(correctJoin('a', '2020-03-01'))
        .thenEmits([joinCorrected('e1', 'a', '2020-03-01')]));
  });

  describe('a retraction that would strand facts is refused', () => {
    it('given b enrolled and carrying an activity, when b’s join is retracted, then 422 naming both', () => {
      const err = membership
        .given(...bInSpace, launched('garage', ['b'], '2020-03-15'))
        .when(retract('join-b-2020-02-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual([
        'enrol-b not_a_member_at_date',
        'launch-garage not_a_member_at_date',
      ]);
      expect(err.message).toContain('retraction');
    });

    it('given an associate admitted, when the legal entity’s registration is retracted, then 422', () => {
      const err = membership
        .given(registered, entity('2020-02-15'), admitted('a', '2020-03-01'))
        .when(retract('entity'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['admit-a no_legal_entity']);
    });

    it('given an enrolment that relies on a corrected join, when the correction is retracted, then 422', () => {
      const err = membership
        .given(
          registered,
          joined('b', '2020-05-01'),
          opened('s', '2020-02-01'),
          (l) =>
            l.now(
              'MembershipCorrected',
              {
                correctsEventId: 'join-b-2020-05-01',
                organisationId: 'b',
                fields: { joinedAt: '2020-02-01' },
                reason: 'r',
              },
              'fix-b',
            ),
          enrolledAs('enrol-b', 's', 'b', '2020-03-01'),
        )
        .when(retract('fix-b'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['enrol-b not_a_member_at_date']);
    });

    it('given a meeting b attended, when b’s enrolment is retracted, then 422 naming the meeting', () => {
      const err = membership
        .given(...bInSpace, met('s', 'm', ['a', 'b'], '2020-04-01'))
        .when(retract('enrol-b'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['meet-m attendees_not_enrolled']);
    });

    it('given a decision taken at a meeting, when the meeting is retracted, then 422 naming the decision', () => {
      const err = membership
        .given(
          ...bInSpace,
          met('s', 'm', ['a', 'b'], '2020-04-01'),
          decided('d1', ['a', 'b'], '2020-04-01', 'm'),
        )
        .when(retract('meet-m'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['decide-d1 meeting_not_held']);
    });
  });

  describe('other corrections', () => {
    it('given an associate admitted on 2020-03-01, when the legal entity’s registration moves past it, then 422', () => {
      const err = membership
        .given(registered, entity('2020-02-15'), admitted('a', '2020-03-01'))
        .when({ type: 'CorrectLegalEntity', fields: { registeredAt: '2020-04-01' }, reason: 'Kbis' })
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['admit-a no_legal_entity']);
    });

    it('given a decision taken at a meeting, when the meeting moves after it, then 422 naming the decision', () => {
      const err = groups
        .given(
          ...bInSpace,
          met('s', 'm', ['a', 'b'], '2020-04-01'),
          decided('d1', ['a', 'b'], '2020-04-01', 'm'),
        )
        .when({
          type: 'CorrectMeeting',
          spaceId: 's',
          meetingId: 'm',
          fields: { heldAt: '2020-04-02' },
          reason: 'r',
        })
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['decide-d1 meeting_not_held']);
    });

    it('given a decision counting b present at a meeting, when b is struck from the attendees, then 422', () => {
      const err = groups
        .given(
          ...bInSpace,
          met('s', 'm', ['a', 'b'], '2020-04-01'),
          decided('d1', ['a', 'b'], '2020-04-01', 'm'),
        )
        .when({
          type: 'CorrectMeeting',
          spaceId: 's',
          meetingId: 'm',
          fields: { attendees: ['a'] },
          reason: 'r',
        })
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['decide-d1 present_not_attendees']);
    });

    it('given a decision at a meeting b did not attend, when the decision counts b present, then 422', () => {
      const err = decisions
        .given(...bInSpace, met('s', 'm', ['a'], '2020-04-01'), decided('d1', ['a'], '2020-04-01', 'm'))
        .when({
          type: 'CorrectDecision',
          decisionId: 'd1',
          fields: { present: ['a', 'b'], vote: { for: 2, against: 0, abstain: 0 } },
          reason: 'r',
        })
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['decide-d1 present_not_attendees']);
    });

    it('given a decision annulled on 2020-05-01, when the decision moves after it, then 422 naming the annulment', () => {
      const err = decisions
        .given(...bInSpace, decided('d1', ['a', 'b'], '2020-04-01'), (l) =>
          l.add('DecisionAnnulled', '2020-05-01', { decisionId: 'd1', reason: 'r' }, 'annul-d1'),
        )
        .when({ type: 'CorrectDecision', decisionId: 'd1', fields: { decidedAt: '2020-06-01' }, reason: 'r' })
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['annul-d1 decision_not_found']);
    });
  });

  describe('a correction or retraction that contradicts nothing is accepted', () => {
    it('a join moved earlier, or later but still before what needs it', () => {
      const given = membership.given(...bInSpace, met('s', 'm', ['a', 'b'], '2020-04-01'));
      given
        .when(correctJoin('b', '2020-01-15'))
        .thenEmits([joinCorrected('join-b-2020-02-01', 'b', '2020-01-15')]);
      given
        .when(correctJoin('b', '2020-02-20'))
        .thenEmits([joinCorrected('join-b-2020-02-01', 'b', '2020-02-20')]);
      given
        .when({ type: 'CorrectMembership', organisationId: 'b', fields: { name: 'B2' }, reason: 'r' })
        .thenEmits([
          recordedNow('MembershipCorrected', {
            correctsEventId: 'join-b-2020-02-01',
            organisationId: 'b',
            fields: { name: 'B2' },
            reason: 'r',
          }),
        ]);
    });

    it('a join nothing depends on is retracted, and a corrected join takes its correction with it', () => {
      membership
        .given(registered, joined('b', '2020-02-01'))
        .when(retract('join-b-2020-02-01'))
        .thenEmits([retracted('join-b-2020-02-01', 'MemberJoined')]);
      membership
        .given(registered, joined('b', '2020-02-01'), (l) =>
          l.now('MembershipCorrected', {
            correctsEventId: 'join-b-2020-02-01',
            organisationId: 'b',
            fields: { joinedAt: '2020-02-10' },
            reason: 'r',
          }),
        )
        .when(retract('join-b-2020-02-01'))
        .thenEmits([retracted('join-b-2020-02-01', 'MemberJoined')]);
    });

    it('dependent facts first: the meeting’s retraction is accepted once its decision is retracted', () => {
      membership
        .given(
          ...bInSpace,
          met('s', 'm', ['a', 'b'], '2020-04-01'),
          decided('d1', ['a', 'b'], '2020-04-01', 'm'),
          (l) =>
            l.now('EventRetracted', {
              retractedEventId: 'decide-d1',
              retractedType: 'DecisionRecorded',
              reason: 'r',
            }),
        )
        .when(retract('meet-m'))
        .thenEmits([retracted('meet-m', 'MeetingHeld')]);
    });

    it('attendance fixed one record at a time: the decision shrinks before the meeting, the meeting grows before the decision', () => {
      const base = [
        ...bInSpace,
        met('s', 'm', ['a', 'b'], '2020-04-01'),
        decided('d1', ['a', 'b'], '2020-04-01', 'm'),
      ];
      decisions
        .given(...base)
        .when({
          type: 'CorrectDecision',
          decisionId: 'd1',
          fields: { present: ['a'], vote: { for: 1, against: 0, abstain: 0 } },
          reason: 'r',
        })
        .thenEmits([
          recordedNow('DecisionCorrected', {
            correctsEventId: 'decide-d1',
            decisionId: 'd1',
            fields: { present: ['a'], vote: { for: 1, against: 0, abstain: 0 } },
            reason: 'r',
            // Re-derived at the decision's date: a and b enrolled in s, one of them present.
            rules: RULES,
            enrolledCount: 2,
            outcome: 'adopted',
          }),
        ]);
      groups
        .given(...bInSpace, met('s', 'm', ['a'], '2020-04-01'), decided('d1', ['a'], '2020-04-01', 'm'))
        .when({
          type: 'CorrectMeeting',
          spaceId: 's',
          meetingId: 'm',
          fields: { attendees: ['a', 'b'] },
          reason: 'r',
        })
        .thenEmits([
          recordedNow('MeetingCorrected', {
            correctsEventId: 'meet-m',
            spaceId: 's',
            meetingId: 'm',
            fields: { attendees: ['a', 'b'] },
            reason: 'r',
          }),
        ]);
    });
  });

  describe('a history that already contradicts itself (written by another tool)', () => {
    const contradictory: Given[] = [
      ...bInSpace,
      // Another tool enrolled z, never a member, and held a meeting z attended.
      enrolledAs('enrol-z', 's', 'z', '2020-03-01'),
      met('s', 'm', ['a', 'z'], '2020-04-01'),
    ];

    it('still folds, reporting what it skipped as warnings', () => {
      const log = new LogBuilder('p');
      for (const g of contradictory) g(log);
      decided('d1', ['a'], '2020-03-15', 'm')(log);
      const ledger = foldLedger(log.events);
      expect(ledgerFinal(ledger).warnings.map((w) => `${w.eventId} ${w.code}`)).toEqual([
        'enrol-z not_a_member_at_date',
        'decide-d1 meeting_not_held',
        'meet-m attendees_not_enrolled',
      ]);
      expect(ledgerFinal(ledger).meetings.get('m')?.attendees).toEqual(['a', 'z']);
      expect(ledgerFinal(ledger).decisions.has('d1')).toBe(true);
    });

    it('does not block a correction that adds no contradiction of its own, nor the retraction of a wrong record', () => {
      const given = membership.given(...contradictory);
      given
        .when(correctJoin('b', '2020-02-15'))
        .thenEmits([joinCorrected('join-b-2020-02-01', 'b', '2020-02-15')]);
      given.when(retract('enrol-z')).thenEmits([retracted('enrol-z', 'MemberEnrolled')]);
    });

    it('still refuses a correction that adds an offender to a fact already flagged', () => {
      const err = membership
        .given(
          ...bInSpace,
          enrolledAs('enrol-z', 's', 'z', '2020-03-01'),
          met('s', 'm', ['a', 'b', 'z'], '2020-04-01'),
        )
        .when(correctJoin('b', '2020-05-01'))
        .thenThrows('contradicts_history', 422);
      expect(conflictsOf(err)).toEqual(['enrol-b not_a_member_at_date', 'meet-m attendees_not_enrolled']);
    });
  });
});
