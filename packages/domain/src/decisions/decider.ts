import {
  compareValidTime,
  type DecisionKind,
  type DecisionSubject,
  daysBetween,
  type EvidenceData,
  parisDay,
  type ValidTime,
  type Vote,
} from '@ptce/events';
import type { Ledger, LedgerState } from '../ledger/types.ts';
import {
  assertNoNewContradiction,
  assertRegistered,
  assertRegisteredAt,
  type DecideContext,
  type EventToAppend,
  finalState,
  hasFields,
  transactionTime,
  withEvidence,
  withoutUndefined,
} from '../shared/decider.ts';
import { assertEnrolledAt, enrolledOf, openSpaceAt } from '../shared/guards.ts';
import { refuse } from '../shared/refusals.ts';
import { deriveOutcome, votesCast } from './outcome.ts';

export type DecisionsCommand =
  | {
      readonly type: 'RecordDecision';
      readonly decisionId: string;
      readonly spaceId: string;
      readonly meetingId?: string;
      readonly present?: readonly string[];
      readonly title: string;
      readonly kind: DecisionKind;
      readonly subject?: DecisionSubject;
      readonly vote: Vote;
      readonly occurredAt: ValidTime;
      readonly evidence?: EvidenceData;
    }
  | {
      readonly type: 'CorrectDecision';
      readonly decisionId: string;
      readonly fields: {
        readonly vote?: Vote;
        readonly present?: readonly string[];
        readonly decidedAt?: ValidTime;
        readonly title?: string;
      };
      readonly reason: string;
      readonly evidence?: EvidenceData;
    }
  | {
      readonly type: 'AnnulDecision';
      readonly decisionId: string;
      readonly reason: string;
      /**
       * Left out: the annulment is retroactive — it takes effect at the decision's own date, and
       * follows that date if a correction moves it later.
       */
      readonly occurredAt?: ValidTime;
      readonly evidence?: EvidenceData;
    };

function assertSubject(kind: DecisionKind, subject: DecisionSubject | undefined): void {
  if (kind === 'shared_legal_structure' && !(subject && 'step' in subject)) {
    throw refuse('invalid_subject', 'a shared_legal_structure decision needs subject { step, legalForm }');
  }
  if (kind === 'admission' && !(subject && 'organisationId' in subject)) {
    throw refuse('invalid_subject', 'an admission decision needs subject { organisationId }');
  }
  if (subject && kind !== 'shared_legal_structure' && kind !== 'admission') {
    throw refuse('invalid_subject', `a ${kind} decision takes no subject`);
  }
}

function assertSameAttendance(present: readonly string[], attendees: readonly string[], meetingId: string) {
  const listed = new Set(present);
  const attended = new Set(attendees);
  const notAttendees = [...listed].filter((o) => !attended.has(o)).sort();
  const missing = [...attended].filter((o) => !listed.has(o)).sort();
  if (notAttendees.length === 0 && missing.length === 0) return;
  throw refuse(
    'present_differs_from_meeting',
    `present differs from the attendees of meeting ${meetingId}: ${[
      notAttendees.length ? `not attendees: ${notAttendees.join(', ')}` : '',
      missing.length ? `attendees not listed: ${missing.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ')} (give the meeting alone, or correct the meeting first)`,
    { meetingId, notAttendees, missing },
  );
}

/**
 * Minutes are approved at the next meeting, a quarter later at the latest: a decision citing a
 * meeting is dated on the meeting's day or before its minutes are approved, at most this many
 * days after it (Europe/Paris days). A later date cites the wrong meeting or carries a typo.
 */
export const MAX_DAYS_FROM_MEETING_TO_DECISION = 92;

function assertSoonAfterMeeting(meetingId: string, heldAt: ValidTime, decidedAt: ValidTime): void {
  const days = daysBetween(parisDay(heldAt), parisDay(decidedAt));
  if (days <= MAX_DAYS_FROM_MEETING_TO_DECISION) return;
  throw refuse(
    'long_after_meeting',
    `the decision is dated ${decidedAt}, ${days} days after meeting ${meetingId} held on ${heldAt}: a decision citing a meeting is dated at most ${MAX_DAYS_FROM_MEETING_TO_DECISION} days after it, when its minutes are approved at the latest`,
    { meetingId, heldAt, decidedAt, maxDays: MAX_DAYS_FROM_MEETING_TO_DECISION },
  );
}

/** Checks the present members and the tally, then reads the outcome under the space's rules at `at`. */
function derive(state: LedgerState, spaceId: string, present: readonly string[], vote: Vote, at: ValidTime) {
  if (present.length === 0) throw refuse('present_required', 'give present members or a meeting');
  if (new Set(present).size !== present.length) {
    const seen = new Set<string>();
    const again = new Set<string>();
    for (const o of present) (seen.has(o) ? again : seen).add(o);
    const twice = [...again].sort();
    throw refuse('duplicate_present', `listed more than once as present: ${twice.join(', ')}`, {
      duplicates: twice,
    });
  }
  assertEnrolledAt(state, spaceId, present, at);
  const cast = votesCast(vote);
  if (cast > present.length) {
    throw refuse('tally_exceeds_present', `${cast} votes for ${present.length} present`, {
      votes: cast,
      present: present.length,
    });
  }
  // `state` is the state a fact at `at` meets: the space's rules there are the latest change
  // ordered before the decision in valid time, else the rules it opened with — never the rules
  // in force today.
  const rules = state.spaces.get(spaceId)!.rules;
  const enrolledCount = enrolledOf(state, spaceId).length;
  return { rules, enrolledCount, outcome: deriveOutcome(rules, enrolledCount, present.length, vote) };
}

export function decideDecisions(
  command: DecisionsCommand,
  ledger: Ledger,
  ctx: DecideContext,
): EventToAppend[] {
  const events = decide(command, ledger, ctx);
  // A decision's correction included: moved after its annulment, the annulment would annul nothing.
  assertNoNewContradiction(ledger, events, ctx);
  return events;
}

function decide(command: DecisionsCommand, ledger: Ledger, ctx: DecideContext): EventToAppend[] {
  const ev = withEvidence(command.evidence);
  switch (command.type) {
    case 'RecordDecision': {
      const at = command.occurredAt;
      const state = assertRegisteredAt(ledger, at, ctx);
      const final = finalState(ledger);
      if (final.decisions.has(command.decisionId)) {
        throw refuse('decision_already_exists', `decision ${command.decisionId} already exists`, {
          decisionId: command.decisionId,
        });
      }
      openSpaceAt(ledger, state, command.spaceId, at);
      assertSubject(command.kind, command.subject);
      let present = command.present ?? [];
      if (command.meetingId) {
        const meeting = final.meetings.get(command.meetingId);
        if (!meeting)
          throw refuse('meeting_not_found', `meeting ${command.meetingId} does not exist`, {
            meetingId: command.meetingId,
          });
        if (meeting.spaceId !== command.spaceId) {
          throw refuse(
            'meeting_not_in_space',
            `meeting ${command.meetingId} is a meeting of ${meeting.spaceId}`,
          );
        }
        if (!state.meetings.has(command.meetingId)) {
          throw refuse(
            'before_meeting',
            `meeting ${command.meetingId} is held on ${meeting.heldAt}, after ${at}`,
          );
        }
        assertSoonAfterMeeting(command.meetingId, meeting.heldAt, at);
        // The meeting's attendance is the record of who was present: a list that says otherwise
        // is a mistake in one of the two records, not something to pick silently.
        if (command.present) assertSameAttendance(command.present, meeting.attendees, command.meetingId);
        present = meeting.attendees;
      }
      const derived = derive(state, command.spaceId, present, command.vote, at);
      return [
        {
          type: 'DecisionRecorded',
          data: withoutUndefined({
            decisionId: command.decisionId,
            spaceId: command.spaceId,
            meetingId: command.meetingId,
            present: [...present],
            title: command.title,
            kind: command.kind,
            subject: command.subject,
            vote: command.vote,
            ...derived,
          }),
          occurredAt: at,
          ...ev,
        },
      ];
    }
    case 'CorrectDecision': {
      assertRegistered(ledger);
      if (!hasFields(command.fields))
        throw refuse('nothing_to_correct', 'give at least one of vote, present, decidedAt, title');
      const decision = finalState(ledger).decisions.get(command.decisionId);
      if (!decision)
        throw refuse('decision_not_found', `decision ${command.decisionId} does not exist`, {
          decisionId: command.decisionId,
        });
      const at = command.fields.decidedAt ?? decision.decidedAt;
      const state = assertRegisteredAt(ledger, at, ctx);
      openSpaceAt(ledger, state, decision.spaceId, at);
      // A decision taken at a meeting cannot be moved before that meeting was held.
      if (decision.meetingId && !state.meetings.has(decision.meetingId)) {
        const meeting = finalState(ledger).meetings.get(decision.meetingId);
        throw refuse(
          'before_meeting',
          `meeting ${decision.meetingId} is held on ${meeting?.heldAt ?? 'an unknown date'}, after ${at}`,
          { meetingId: decision.meetingId },
        );
      }
      // Only a correction that moves the date answers for it: one fixing a vote is not refused
      // for a date recorded before the bound existed.
      const meeting = decision.meetingId ? finalState(ledger).meetings.get(decision.meetingId) : undefined;
      if (command.fields.decidedAt && decision.meetingId && meeting) {
        assertSoonAfterMeeting(decision.meetingId, meeting.heldAt, command.fields.decidedAt);
      }
      const derived = derive(
        state,
        decision.spaceId,
        command.fields.present ?? decision.present,
        command.fields.vote ?? decision.vote,
        at,
      );
      return [
        {
          type: 'DecisionCorrected',
          data: {
            correctsEventId: decision.eventId,
            decisionId: command.decisionId,
            fields: withoutUndefined({
              vote: command.fields.vote,
              present: command.fields.present ? [...command.fields.present] : undefined,
              decidedAt: command.fields.decidedAt,
              title: command.fields.title,
            }),
            reason: command.reason,
            ...derived,
          },
          occurredAt: transactionTime(ctx),
          ...ev,
        },
      ];
    }
    case 'AnnulDecision': {
      const decision = finalState(ledger).decisions.get(command.decisionId);
      if (!decision) {
        assertRegistered(ledger);
        throw refuse('decision_not_found', `decision ${command.decisionId} does not exist`, {
          decisionId: command.decisionId,
        });
      }
      // An annulment voids the decision from the start unless it is given a date of its own: it
      // is stored at the decision's date as known now, and marked retroactive so that the fold
      // keeps it at the decision's date, wherever a later correction of that date moves it.
      const retroactive = command.occurredAt === undefined;
      const occurredAt = command.occurredAt ?? decision.decidedAt;
      assertRegisteredAt(ledger, occurredAt, ctx);
      if (decision.annulled)
        throw refuse(
          'already_annulled',
          `decision ${command.decisionId} was annulled on ${decision.annulled.at}`,
        );
      if (compareValidTime(occurredAt, decision.decidedAt) < 0) {
        throw refuse('before_decision', `decision ${command.decisionId} was taken on ${decision.decidedAt}`);
      }
      return [
        {
          type: 'DecisionAnnulled',
          data: {
            decisionId: command.decisionId,
            reason: command.reason,
            ...(retroactive ? { retroactive: true } : {}),
          },
          occurredAt,
          ...ev,
        },
      ];
    }
    default: {
      const never: never = command;
      return never;
    }
  }
}
