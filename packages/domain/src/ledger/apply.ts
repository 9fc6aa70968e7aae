import type { SpaceRules, ValidTime } from '@ptce/events';
import { deriveOutcome } from '../decisions/outcome.ts';
import type {
  ActivityState,
  AssociateState,
  DecisionState,
  EnrolmentPeriod,
  EnrolmentState,
  Fact,
  LedgerWarning,
  LegalEntityState,
  MeetingState,
  MemberState,
  MembershipPeriod,
  RecognitionState,
  Registration,
  SpaceState,
} from './types.ts';

export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** What `apply` needs of a map: a plain Map for a replay, a copy-on-write view for a dry run. */
export interface Table<K, V> {
  get(key: K): V | undefined;
  has(key: K): boolean;
  set(key: K, value: V): unknown;
  delete(key: K): boolean;
  values(): Iterable<V>;
}

export type WorkSpace = Mutable<SpaceState> & {
  enrolled: Map<string, EnrolmentState>;
  /** Period arrays are never changed in place: a change replaces the organisation's array. */
  periods: Map<string, readonly EnrolmentPeriod[]>;
};
export type WorkActivity = Mutable<ActivityState> & { carriers: Map<string, ValidTime> };

export interface Work {
  registration: Registration | null;
  pilotId: string | null;
  members: Table<string, MemberState>;
  periods: Table<string, Mutable<MembershipPeriod>[]>;
  spaces: Table<string, WorkSpace>;
  meetings: Table<string, MeetingState>;
  activities: Table<string, WorkActivity>;
  legalEntity: LegalEntityState | null;
  associates: Table<string, AssociateState>;
  decisions: Table<string, Mutable<DecisionState>>;
  recognitions: RecognitionState[];
  warnings: LedgerWarning[];
}

/** A replay's own state: plain maps, readable as a LedgerState. */
export interface StateWork extends Work {
  members: Map<string, MemberState>;
  periods: Map<string, Mutable<MembershipPeriod>[]>;
  spaces: Map<string, WorkSpace>;
  meetings: Map<string, MeetingState>;
  activities: Map<string, WorkActivity>;
  associates: Map<string, AssociateState>;
  decisions: Map<string, Mutable<DecisionState>>;
}

export function newWork(warnings: readonly LedgerWarning[]): StateWork {
  return {
    registration: null,
    pilotId: null,
    members: new Map(),
    periods: new Map(),
    spaces: new Map(),
    meetings: new Map(),
    activities: new Map(),
    legalEntity: null,
    associates: new Map(),
    decisions: new Map(),
    recognitions: [],
    warnings: [...warnings],
  };
}

/** Applies one fact in valid-time order, recording it as applied or the reason it was skipped. */
export function step(w: Work, fact: Fact): void {
  const skipped = apply(w, fact);
  if (skipped) {
    w.warnings.push({
      eventId: fact.eventId,
      type: fact.type,
      code: skipped.code,
      message: `${fact.type} at ${fact.occurredAt} skipped: ${skipped.message}`,
      ...(skipped.details ? { details: skipped.details } : {}),
    });
  }
}

/*
 * What `apply` changes in place inside a table's entries: a copy of an entry made before it is
 * changed leaves the original as it was (a dry run's fork, a shared state moved on).
 */
export const copyPeriods = (ps: Mutable<MembershipPeriod>[]): Mutable<MembershipPeriod>[] =>
  ps.map((p) => ({ ...p }));
export const copySpace = (sp: WorkSpace): WorkSpace => ({
  ...sp,
  enrolled: new Map(sp.enrolled),
  periods: new Map(sp.periods),
});
export const copyActivity = (a: WorkActivity): WorkActivity => ({ ...a, carriers: new Map(a.carriers) });
export const copyDecision = (d: Mutable<DecisionState>): Mutable<DecisionState> => ({ ...d });

const copyEntries = <V>(m: ReadonlyMap<string, V>, copy: (v: V) => V): Map<string, V> => {
  const out = new Map<string, V>();
  for (const [k, v] of m) out.set(k, copy(v));
  return out;
};

/** A copy of a replay's state that applying facts to leaves the original untouched. */
export function copyState(s: StateWork): StateWork {
  return {
    registration: s.registration,
    pilotId: s.pilotId,
    members: new Map(s.members),
    periods: copyEntries(s.periods, copyPeriods),
    spaces: copyEntries(s.spaces, copySpace),
    meetings: new Map(s.meetings),
    activities: copyEntries(s.activities, copyActivity),
    legalEntity: s.legalEntity,
    associates: new Map(s.associates),
    decisions: copyEntries(s.decisions, copyDecision),
    recognitions: [...s.recognitions],
    warnings: [...s.warnings],
  };
}

const sameRules = (a: SpaceRules, b: SpaceRules): boolean =>
  a.majority === b.majority && a.quorum === b.quorum;
const describeRules = (r: SpaceRules): string => `quorum ${r.quorum}, ${r.majority} majority`;

interface Skip {
  readonly code: string;
  readonly message: string;
  readonly details?: Record<string, unknown>;
}

const skip = (code: string, message: string, details?: Record<string, unknown>): Skip => ({
  code,
  message,
  ...(details ? { details } : {}),
});

// At module level, not beside the switch that uses it: a closure made there was one allocation
// for every fact replayed, and every replay applies each fact of the history.
const notMember = (org: string): Skip =>
  skip('not_a_member', `${org} is not an active member at that date`, { organisationId: org });

function addMember(w: Work, m: MemberState): void {
  w.members.set(m.organisationId, m);
  const period = { joinedAt: m.joinedAt, joinEventId: m.joinEventId };
  const periods = w.periods.get(m.organisationId);
  // A literal of one, not a push on []: V8 gives a pushed-on empty array room for 17 elements,
  // ~130 bytes wasted per member of a long history, most of whom join once.
  w.periods.set(m.organisationId, periods ? [...periods, period] : [period]);
}

/**
 * Ends `org`'s open enrolment period in the space at `at`: the seat is gone from `enrolled`, and its
 * period, kept, says when and why it ended.
 */
function endSeat(
  space: WorkSpace,
  org: string,
  at: ValidTime,
  eventId: string,
  endedBy: NonNullable<EnrolmentPeriod['endedBy']>,
): void {
  space.enrolled.delete(org);
  const periods = space.periods.get(org);
  const open = periods?.at(-1);
  if (!periods || !open || open.endedAt !== undefined) return;
  space.periods.set(org, [...periods.slice(0, -1), { ...open, endedAt: at, endEventId: eventId, endedBy }]);
}

/**
 * A decision taken at a meeting stands on that meeting's record: the meeting must be held, in the
 * decision's space, by the decision's date, and whoever the decision counts as present must have
 * attended it. Recording a decision checks both; a later correction or retraction of either record
 * could break them, so the fold flags it (the decision is kept: it was taken). An attendee the
 * decision does not count is not flagged: the two records are corrected one at a time, so fixing
 * an attendance means shrinking the decision's list before the meeting's, or growing the
 * meeting's before the decision's, and the state in between must be one the ledger accepts.
 */
function noteMeetingOfDecision(
  w: Work,
  f: Extract<Fact, { type: 'DecisionRecorded' }>,
  meetingId: string,
): void {
  const { decisionId, spaceId, present } = f.data;
  const meeting = w.meetings.get(meetingId);
  if (!meeting || meeting.spaceId !== spaceId) {
    w.warnings.push({
      eventId: f.eventId,
      type: f.type,
      code: 'meeting_not_held',
      message: `decision ${decisionId}: meeting ${meetingId} is not held in ${spaceId} by ${f.occurredAt}`,
      details: { meetingId },
    });
    return;
  }
  // A set only for a large meeting: one per decision replayed was garbage of every replay.
  const { attendees } = meeting;
  const attended = attendees.length > 32 ? new Set(attendees) : null;
  const offenders = present.filter((p) => !(attended ? attended.has(p) : attendees.includes(p)));
  if (offenders.length) {
    w.warnings.push({
      eventId: f.eventId,
      type: f.type,
      code: 'present_not_attendees',
      message: `decision ${decisionId}: ${offenders.join(', ')} counted present but did not attend meeting ${meetingId}`,
      details: { meetingId, offenders },
    });
  }
}

/**
 * The outcome stored with a decision is what the body decided: only a correction of that decision
 * changes it, and nothing here rewrites it. But the history it was derived from can grow after it
 * was recorded — an enrolment or a departure dated before the decision, a meeting corrected — and
 * then the same vote, counted on the history as now known, may no longer give the same outcome (a
 * quorum that no longer holds once a backdated enrolment raises the enrolled count). So each read
 * derives the outcome again, from the stored vote and present members, the space's members
 * enrolled at the decision's date and the rules in force there, and says where the two disagree.
 * It is a note for whoever reads the record (an auditor above all), not a contradiction: the
 * decision stays as recorded, and the write that revealed the difference is not refused for it
 * (see `NOT_CONTRADICTIONS` in shared/decider.ts).
 *
 * It stands beside `decision_rules_not_in_force`, which it does not replace: that one says the
 * rules stored with the decision are not those in force at its date, whatever the outcome, and
 * refuses the rules change or retraction that would cause it; this one says the outcome itself no
 * longer follows, for whatever cause (the rules among them: both then show, each true). A change
 * of rules that leaves the outcome as it was raises only the first; a backdated enrolment, only
 * this one.
 */
function noteOutcomeOfDecision(
  w: Work,
  f: Extract<Fact, { type: 'DecisionRecorded' }>,
  space: WorkSpace,
): void {
  const d = f.data;
  // As the decider counts them (`enrolledOf`): the seats held by active members of an open space.
  let enrolledCount = 0;
  if (!space.closedAt) for (const org of space.enrolled.keys()) if (w.members.has(org)) enrolledCount++;
  const derived = deriveOutcome(space.rules, enrolledCount, d.present.length, d.vote);
  if (derived === d.outcome) return;
  w.warnings.push({
    eventId: f.eventId,
    type: f.type,
    code: 'outcome_differs',
    message: `decision ${d.decisionId}: recorded as ${d.outcome}, but the vote reads ${derived} on the history as known (${d.present.length} present of ${enrolledCount} enrolled in ${d.spaceId} at ${f.occurredAt}, ${describeRules(space.rules)})`,
    details: {
      decisionId: d.decisionId,
      stored: d.outcome,
      derived,
      present: d.present.length,
      enrolledCount,
      rules: space.rules,
    },
  });
}

/** Applies one fact, or says why it cannot apply. A note (a warning on an applied fact) is pushed directly. */
function apply(w: Work, f: Fact): Skip | null {
  if (f.type === 'PtceRegistered') {
    if (w.registration)
      return skip('ptce_already_registered', `the PTCE was registered at ${w.registration.at}`);
    const { pilot } = f.data;
    w.registration = {
      at: f.occurredAt,
      eventId: f.eventId,
      name: f.data.name,
      territory: f.data.territory,
      founderId: pilot.organisationId,
    };
    w.pilotId = pilot.organisationId;
    addMember(w, {
      organisationId: pilot.organisationId,
      name: pilot.name,
      category: pilot.category,
      ...(pilot.legalStatus ? { legalStatus: pilot.legalStatus } : {}),
      joinedAt: f.occurredAt,
      joinEventId: f.eventId,
    });
    return null;
  }
  if (!w.registration) return skip('before_registration', 'the PTCE is not registered at that date');
  switch (f.type) {
    case 'MemberJoined': {
      const org = f.data.organisationId;
      if (w.members.has(org))
        return skip('already_member', `${org} is already an active member`, { organisationId: org });
      addMember(w, {
        organisationId: org,
        name: f.data.name,
        category: f.data.category,
        ...(f.data.legalStatus ? { legalStatus: f.data.legalStatus } : {}),
        joinedAt: f.occurredAt,
        joinEventId: f.eventId,
      });
      return null;
    }
    case 'MemberLeft': {
      const org = f.data.organisationId;
      if (!w.members.has(org)) return notMember(org);
      w.members.delete(org);
      const period = w.periods.get(org)?.at(-1);
      if (period) {
        period.leftAt = f.occurredAt;
        period.leaveEventId = f.eventId;
      }
      // Leaving the PTCE ends, at the departure's date, everything the member held in it: its
      // seats in the spaces, its place among the associates of the shared entity, and its share in
      // carrying activities. Nothing of it is restored by a later return: a member who rejoins is
      // enrolled, admitted and named a carrier again, each by a fact of its own. A later fact that
      // relies on what ended here (a meeting the member attended afterwards) is a contradiction.
      // Walked in place, with no array of spaces made for every departure replayed. What a table
      // yields may be shared with the state a dry run forks (see dry-run.ts): a change goes
      // through `get`, which hands over the fork's own copy.
      for (const seated of w.spaces.values()) {
        if (!seated.enrolled.has(org)) continue;
        const space = w.spaces.get(seated.spaceId);
        if (space) endSeat(space, org, f.occurredAt, f.eventId, 'departure');
      }
      w.associates.delete(org);
      for (const carried of w.activities.values()) {
        if (!carried.endedAt && carried.carriers.has(org))
          w.activities.get(carried.activityId)?.carriers.delete(org);
      }
      if (w.pilotId === org) {
        w.pilotId = null;
        w.warnings.push({
          eventId: f.eventId,
          type: f.type,
          code: 'pilot_left',
          message: `the pilot ${org} left; no pilot from ${f.occurredAt}`,
        });
      }
      return null;
    }
    case 'PilotHandedOver': {
      if (!w.members.has(f.data.organisationId)) return notMember(f.data.organisationId);
      w.pilotId = f.data.organisationId;
      return null;
    }
    case 'LegalEntityRegistered': {
      if (w.legalEntity)
        return skip(
          'legal_entity_already_registered',
          `a legal entity was registered at ${w.legalEntity.registeredAt}`,
        );
      w.legalEntity = { ...f.data, registeredAt: f.occurredAt, eventId: f.eventId };
      return null;
    }
    case 'AssociateAdmitted': {
      const org = f.data.organisationId;
      if (!w.legalEntity) return skip('no_legal_entity', 'no shared legal entity is registered at that date');
      if (!w.members.has(org)) return notMember(org);
      if (w.associates.has(org))
        return skip('already_associate', `${org} is already an associate`, { organisationId: org });
      w.associates.set(org, {
        organisationId: org,
        ...(f.data.college ? { college: f.data.college } : {}),
        admittedAt: f.occurredAt,
        eventId: f.eventId,
      });
      return null;
    }
    case 'AssociateWithdrew': {
      const org = f.data.organisationId;
      if (!w.associates.delete(org))
        return skip('not_an_associate', `${org} is not an associate`, { organisationId: org });
      return null;
    }
    case 'RecognitionGranted':
      w.recognitions.push({ ...f.data, grantedAt: f.occurredAt, eventId: f.eventId });
      return null;
    case 'SpaceOpened': {
      if (w.spaces.has(f.data.spaceId))
        return skip('space_already_opened', `space ${f.data.spaceId} already exists`);
      w.spaces.set(f.data.spaceId, {
        spaceId: f.data.spaceId,
        kind: f.data.kind,
        name: f.data.name,
        themes: f.data.themes ?? [],
        rules: f.data.rules,
        rulesHistory: [{ rules: f.data.rules, from: f.occurredAt, eventId: f.eventId }],
        openedAt: f.occurredAt,
        eventId: f.eventId,
        enrolled: new Map(),
        periods: new Map(),
      });
      return null;
    }
    case 'MemberEnrolled': {
      const { spaceId, organisationId: org } = f.data;
      const space = w.spaces.get(spaceId);
      if (!space) return skip('space_not_found', `space ${spaceId} is not open at that date`);
      if (space.closedAt) return skip('space_closed', `space ${spaceId} was closed at ${space.closedAt}`);
      if (!w.members.has(org))
        return skip('not_a_member_at_date', `${org} is not an active member at that date`, {
          organisationId: org,
        });
      if (space.enrolled.has(org))
        return skip('already_enrolled', `${org} is already enrolled in ${spaceId}`);
      space.enrolled.set(org, {
        organisationId: org,
        role: f.data.role,
        enrolledAt: f.occurredAt,
        eventId: f.eventId,
      });
      const period: EnrolmentPeriod = { role: f.data.role, enrolledAt: f.occurredAt, eventId: f.eventId };
      const periods = space.periods.get(org);
      space.periods.set(org, periods ? [...periods, period] : [period]);
      return null;
    }
    case 'MemberWithdrawnFromSpace': {
      const space = w.spaces.get(f.data.spaceId);
      if (!space) return skip('space_not_found', `space ${f.data.spaceId} is not open at that date`);
      if (!space.enrolled.has(f.data.organisationId)) {
        return skip('not_enrolled', `${f.data.organisationId} is not enrolled in ${f.data.spaceId}`);
      }
      endSeat(space, f.data.organisationId, f.occurredAt, f.eventId, 'withdrawal');
      return null;
    }
    case 'MeetingHeld': {
      const { spaceId, meetingId, attendees } = f.data;
      const space = w.spaces.get(spaceId);
      if (!space) return skip('space_not_found', `space ${spaceId} is not open at that date`);
      if (space.closedAt) return skip('space_closed', `space ${spaceId} was closed at ${space.closedAt}`);
      if (w.meetings.has(meetingId))
        return skip('meeting_already_held', `meeting ${meetingId} already exists`);
      const offenders = attendees.filter((a) => !space.enrolled.has(a));
      if (offenders.length) {
        // The meeting did take place: keep it, but say who was not enrolled.
        w.warnings.push({
          eventId: f.eventId,
          type: f.type,
          code: 'attendees_not_enrolled',
          message: `meeting ${meetingId}: ${offenders.join(', ')} not enrolled in ${spaceId} at ${f.occurredAt}`,
          details: { offenders },
        });
      }
      w.meetings.set(meetingId, {
        meetingId,
        spaceId,
        heldAt: f.occurredAt,
        attendees,
        ...(f.data.guests !== undefined ? { guests: f.data.guests } : {}),
        ...(f.data.minutes ? { minutes: f.data.minutes } : {}),
        eventId: f.eventId,
        correctedBy: f.correctedBy,
      });
      return null;
    }
    case 'SpaceRulesChanged': {
      // From this date on the space decides by the new rules; the earlier ones stay in its
      // history, so the rules in force at any date can be read back.
      const space = w.spaces.get(f.data.spaceId);
      if (!space) return skip('space_not_found', `space ${f.data.spaceId} is not open at that date`);
      if (space.closedAt)
        return skip('space_closed', `space ${f.data.spaceId} was closed at ${space.closedAt}`);
      space.rules = f.data.rules;
      space.rulesHistory = [
        ...space.rulesHistory,
        {
          rules: f.data.rules,
          from: f.occurredAt,
          eventId: f.eventId,
          ...(f.data.reason ? { reason: f.data.reason } : {}),
        },
      ];
      return null;
    }
    case 'SpaceClosed': {
      const space = w.spaces.get(f.data.spaceId);
      if (!space) return skip('space_not_found', `space ${f.data.spaceId} is not open at that date`);
      if (space.closedAt)
        return skip('space_closed', `space ${f.data.spaceId} was already closed at ${space.closedAt}`);
      space.closedAt = f.occurredAt;
      return null;
    }
    case 'ActivityLaunched': {
      const { activityId, carriers } = f.data;
      if (w.activities.has(activityId))
        return skip('activity_already_launched', `activity ${activityId} already exists`);
      const offenders = carriers.filter((c) => !w.members.has(c));
      if (offenders.length === carriers.length) {
        return skip('not_a_member_at_date', `no carrier of ${activityId} is an active member`, { offenders });
      }
      if (offenders.length) {
        w.warnings.push({
          eventId: f.eventId,
          type: f.type,
          code: 'carriers_not_members',
          message: `activity ${activityId}: ${offenders.join(', ')} not active members at ${f.occurredAt}, left out`,
          details: { offenders },
        });
      }
      w.activities.set(activityId, {
        activityId,
        name: f.data.name,
        ...(f.data.theme ? { theme: f.data.theme } : {}),
        ...(f.data.spaceId ? { spaceId: f.data.spaceId } : {}),
        launchedAt: f.occurredAt,
        eventId: f.eventId,
        carriers: new Map(carriers.filter((c) => w.members.has(c)).map((c) => [c, f.occurredAt])),
      });
      return null;
    }
    case 'CarrierJoined': {
      const a = w.activities.get(f.data.activityId);
      if (!a) return skip('activity_not_found', `activity ${f.data.activityId} does not exist at that date`);
      if (a.endedAt) return skip('activity_ended', `activity ${f.data.activityId} ended at ${a.endedAt}`);
      if (!w.members.has(f.data.organisationId)) {
        return skip('not_a_member_at_date', `${f.data.organisationId} is not an active member at that date`);
      }
      if (a.carriers.has(f.data.organisationId))
        return skip('already_carrier', `${f.data.organisationId} already carries it`);
      a.carriers.set(f.data.organisationId, f.occurredAt);
      return null;
    }
    case 'ActivityEnded': {
      const a = w.activities.get(f.data.activityId);
      if (!a) return skip('activity_not_found', `activity ${f.data.activityId} does not exist at that date`);
      if (a.endedAt)
        return skip('activity_ended', `activity ${f.data.activityId} already ended at ${a.endedAt}`);
      a.endedAt = f.occurredAt;
      return null;
    }
    case 'DecisionRecorded': {
      const d = f.data;
      const space = w.spaces.get(d.spaceId);
      if (!space) return skip('space_not_found', `space ${d.spaceId} is not open at that date`);
      if (w.decisions.has(d.decisionId))
        return skip('decision_already_recorded', `decision ${d.decisionId} already exists`);
      const offenders = d.present.filter((p) => !space.enrolled.has(p));
      if (offenders.length) {
        w.warnings.push({
          eventId: f.eventId,
          type: f.type,
          code: 'present_not_enrolled',
          message: `decision ${d.decisionId}: ${offenders.join(', ')} not enrolled in ${d.spaceId} at ${f.occurredAt}`,
          details: { offenders },
        });
      }
      if (d.meetingId) noteMeetingOfDecision(w, f, d.meetingId);
      // A decision's outcome is read under the rules in force at its date, and stored with them. A
      // rules change moved before it (backdated, or its retraction) would leave the decision
      // standing on rules that no longer applied then: flagged, so such a change is refused.
      if (!sameRules(d.rules, space.rules)) {
        w.warnings.push({
          eventId: f.eventId,
          type: f.type,
          code: 'decision_rules_not_in_force',
          message: `decision ${d.decisionId}: taken under ${describeRules(d.rules)}, but ${d.spaceId} decides by ${describeRules(space.rules)} at ${f.occurredAt}`,
          details: { recorded: d.rules, inForce: space.rules },
        });
      }
      noteOutcomeOfDecision(w, f, space);
      w.decisions.set(d.decisionId, {
        ...d,
        decidedAt: f.occurredAt,
        eventId: f.eventId,
        correctedBy: f.correctedBy,
      });
      return null;
    }
    case 'DecisionAnnulled': {
      const d = w.decisions.get(f.data.decisionId);
      if (!d) return skip('decision_not_found', `decision ${f.data.decisionId} does not exist at that date`);
      if (d.annulled)
        return skip('already_annulled', `decision ${f.data.decisionId} was annulled at ${d.annulled.at}`);
      d.annulled = { at: f.occurredAt, reason: f.data.reason, eventId: f.eventId };
      return null;
    }
    // Transaction-time events never become facts (see compileLedger).
    case 'MembershipCorrected':
    case 'LegalEntityCorrected':
    case 'MeetingCorrected':
    case 'DecisionCorrected':
    case 'EventRetracted':
    case 'PersonalDataErased':
      return null;
    default: {
      const never: never = f;
      return never;
    }
  }
}
