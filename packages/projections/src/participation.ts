import type { EnrolmentPeriod, Ledger, LedgerState, MeetingState } from '@ptce/domain';
import {
  type Category,
  categorySchema,
  endInstant,
  parisDay,
  type SpaceKind,
  startInstant,
  type ValidTime,
} from '@ptce/events';
import { activitiesOf, ledgerAt } from './queries.ts';
import { monthsBefore, STEERING_KINDS } from './stage.ts';

/*
 * How broadly the members of a PTCE take part in it, read from the state at t and from the
 * meetings of a window of months ending at t.
 *
 * Seats, at t:
 * - A steering seat is one active member enrolled in one steering space (strategic or
 *   governance) open at t: a member in two steering spaces holds two seats.
 * - Steering coverage is the share of active members holding at least one steering seat;
 *   category coverage the share of the categories present among the members that have at least
 *   one member holding one.
 * - Diversity is Blau's index, 1 − Σ pᵢ² over the categories: 0 when everyone is of one category,
 *   higher as the members spread over more categories evenly. It is taken once over the members
 *   and once over the steering seats, so that a steering dominated by one category shows even
 *   when the membership is diverse.
 * - A category's representation ratio is its share of the steering seats over its share of the
 *   members: 1 is fair representation, below 1 under-representation. It has no meaning for a
 *   category with no member, nor when nobody steers: null then.
 *
 * Attendance, over the window:
 * - The window of n months ending at t starts on the same day of the month n months earlier
 *   (clamped to a shorter month's last day) and runs to t, both ends included.
 * - A member is expected at a meeting held in the window when it was enrolled in the meeting's
 *   space on the meeting's date (the enrolment periods the state keeps say so even when the seat
 *   has ended since, or the space has closed). Its attendance rate is the expected meetings it
 *   attended over the expected meetings; null when none was expected (no rate, rather than 0).
 *   An attendance where it was not enrolled is not counted: it was expected at no such meeting.
 * - A category's rate pools its members' meetings (Σ attended ÷ Σ expected), so a member with
 *   many meetings weighs more than one with a single meeting, as it should in a rate of presence.
 * - Decisions attended are the decisions (taken by t, annulled ones included: they were taken)
 *   recorded at meetings of the window the member attended.
 * - Only members active at t are listed and counted: a member who has left is no longer part of
 *   the PTCE's participation.
 *
 * Activities, at t: an activity running at t is co-carried when at least two active members
 * carry it.
 *
 * A PTCE not registered at t has nobody taking part: zero counts and null rates. Nothing is
 * rounded: the caller presents the figures.
 */

export interface ParticipationOptions {
  /** Months of the attendance window ending at t: an integer from 1 to 120, 12 by default. */
  readonly windowMonths?: number;
}

export const DEFAULT_WINDOW_MONTHS = 12;
export const MAX_WINDOW_MONTHS = 120;

export interface CategoryParticipation {
  readonly members: number;
  /** Members of the category over active members; null with no active member. */
  readonly memberShare: number | null;
  readonly steeringSeats: number;
  /** Seats of the category over every steering seat; null with no steering seat. */
  readonly seatShare: number | null;
  readonly representationRatio: number | null;
  readonly attendanceRate: number | null;
}

export interface MemberParticipation {
  readonly organisationId: string;
  readonly category: Category;
  /** Open spaces of each kind the member is enrolled in at t. */
  readonly spaces: Readonly<Record<SpaceKind, number>>;
  readonly steeringSeats: number;
  readonly attendanceRate: number | null;
  /** Meetings of the window the member was expected at, and those of them it attended. */
  readonly meetingsHeld: number;
  readonly meetingsAttended: number;
  readonly decisionsAttended: number;
  readonly activitiesCoCarried: number;
}

export interface Participation {
  /** The window: its first day and its end (t), both included, and its length in months. */
  readonly window: { readonly from: string; readonly to: ValidTime; readonly months: number };
  readonly steeringCoverage: number | null;
  readonly categoryCoverage: number | null;
  readonly blau: { readonly membership: number | null; readonly steering: number | null };
  readonly byCategory: Readonly<Record<Category, CategoryParticipation>>;
  /** Active members at t, by organisation id. */
  readonly byMember: readonly MemberParticipation[];
}

const CATEGORIES: readonly Category[] = categorySchema.options;

/** The window's length, checked: a window of no month, a fraction of one, or of centuries is a caller's mistake. */
function windowMonthsOf(options: ParticipationOptions): number {
  const months = options.windowMonths ?? DEFAULT_WINDOW_MONTHS;
  if (!Number.isInteger(months) || months < 1 || months > MAX_WINDOW_MONTHS) {
    throw new RangeError(`windowMonths must be an integer from 1 to ${MAX_WINDOW_MONTHS}, got ${months}`);
  }
  return months;
}

const ratio = (num: number, den: number): number | null => (den === 0 ? null : num / den);

/** Blau's index of the counts (one per category); null when there is nothing to count. */
function blau(counts: Iterable<number>): number | null {
  const values = [...counts];
  const total = values.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  return 1 - values.reduce((sum, n) => sum + (n / total) ** 2, 0);
}

const emptyCategory = (): CategoryParticipation => ({
  members: 0,
  memberShare: null,
  steeringSeats: 0,
  seatShare: null,
  representationRatio: null,
  attendanceRate: null,
});

/**
 * The participation of `state`, the ledger state as of `t` (the caller replays it; see
 * `participationAt`). Throws a RangeError for a window outside 1–120 months.
 */
export function participationOf(
  state: LedgerState,
  t: ValidTime,
  options: ParticipationOptions = {},
): Participation {
  const months = windowMonthsOf(options);
  const from = monthsBefore(parisDay(t), months);
  const window = { from, to: t, months };
  if (!state.registration) {
    return {
      window,
      steeringCoverage: null,
      categoryCoverage: null,
      blau: { membership: null, steering: null },
      byCategory: Object.fromEntries(CATEGORIES.map((c) => [c, emptyCategory()])) as Record<
        Category,
        CategoryParticipation
      >,
      byMember: [],
    };
  }

  // Meetings of the window: from its first Paris day on, and taking effect by t (the state given
  // may hold later ones when it was replayed further than t).
  const tEnd = endInstant(t);
  const inWindow: MeetingState[] = [...state.meetings.values()].filter(
    (m) => parisDay(m.heldAt) >= from && startInstant(m.heldAt) <= tEnd,
  );
  const windowMeetingIds = new Set(inWindow.map((m) => m.meetingId));
  const decisionsByMeeting = new Map<string, number>();
  for (const d of state.decisions.values()) {
    if (d.meetingId === undefined || !windowMeetingIds.has(d.meetingId)) continue;
    if (startInstant(d.decidedAt) > tEnd) continue;
    decisionsByMeeting.set(d.meetingId, (decisionsByMeeting.get(d.meetingId) ?? 0) + 1);
  }
  // Each meeting of the window counts, for every member enrolled in its space on its date, one
  // meeting held (and attended, when present), and for every member present, its decisions:
  // walked meeting by meeting over the space's seat holders, not member by member over every
  // meeting (a long history has thousands of both).
  const attendance = new Map<string, { held: number; attended: number; decisions: number }>();
  const countsOf = (org: string) => {
    let counts = attendance.get(org);
    if (!counts) {
      counts = { held: 0, attended: 0, decisions: 0 };
      attendance.set(org, counts);
    }
    return counts;
  };
  // Every enrolment period of a space is held against every meeting of the space: each date is
  // turned into an instant once, not at every comparison (coversAt's rule, on instants).
  const instants = new Map<string, number>();
  const startOf = (time: ValidTime): number => {
    let instant = instants.get(time);
    if (instant === undefined) {
      instant = startInstant(time);
      instants.set(time, instant);
    }
    return instant;
  };
  for (const meeting of inWindow) {
    const present = new Set(meeting.attendees);
    const decisions = decisionsByMeeting.get(meeting.meetingId) ?? 0;
    if (decisions > 0) for (const org of present) countsOf(org).decisions += decisions;
    const space = state.spaces.get(meeting.spaceId);
    if (!space) continue;
    const heldEnd = endInstant(meeting.heldAt);
    const enrolled = (p: EnrolmentPeriod) =>
      startOf(p.enrolledAt) <= heldEnd && (p.endedAt === undefined || startOf(p.endedAt) > heldEnd);
    for (const [org, periods] of space.periods) {
      if (!periods.some(enrolled)) continue;
      const counts = countsOf(org);
      counts.held += 1;
      if (present.has(org)) counts.attended += 1;
    }
  }
  const coCarried = activitiesOf(state).filter((a) => a.carriers.length >= 2);
  const openSpaces = [...state.spaces.values()].filter((s) => !s.closedAt);

  const members = [...state.members.values()].sort((a, b) =>
    a.organisationId < b.organisationId ? -1 : a.organisationId > b.organisationId ? 1 : 0,
  );
  const byMember: MemberParticipation[] = members.map((m) => {
    const org = m.organisationId;
    const spaces: Record<SpaceKind, number> = { operational: 0, strategic: 0, governance: 0 };
    let steeringSeats = 0;
    for (const s of openSpaces) {
      if (!s.enrolled.has(org)) continue;
      spaces[s.kind] += 1;
      if (STEERING_KINDS.has(s.kind)) steeringSeats += 1;
    }
    const {
      held,
      attended,
      decisions: decisionsAttended,
    } = attendance.get(org) ?? {
      held: 0,
      attended: 0,
      decisions: 0,
    };
    return {
      organisationId: org,
      category: m.category,
      spaces,
      steeringSeats,
      attendanceRate: ratio(attended, held),
      meetingsHeld: held,
      meetingsAttended: attended,
      decisionsAttended,
      activitiesCoCarried: coCarried.filter((a) => a.carriers.includes(org)).length,
    };
  });

  const memberCount = byMember.length;
  const totalSeats = byMember.reduce((sum, m) => sum + m.steeringSeats, 0);
  const byCategory = {} as Record<Category, CategoryParticipation>;
  for (const category of CATEGORIES) {
    const of = byMember.filter((m) => m.category === category);
    const seats = of.reduce((sum, m) => sum + m.steeringSeats, 0);
    const memberShare = ratio(of.length, memberCount);
    const seatShare = ratio(seats, totalSeats);
    byCategory[category] = {
      members: of.length,
      memberShare,
      steeringSeats: seats,
      seatShare,
      representationRatio:
        of.length === 0 || seatShare === null || memberShare === null ? null : seatShare / memberShare,
      attendanceRate: ratio(
        of.reduce((sum, m) => sum + m.meetingsAttended, 0),
        of.reduce((sum, m) => sum + m.meetingsHeld, 0),
      ),
    };
  }

  const present = CATEGORIES.filter((c) => byCategory[c].members > 0);
  const steering = byMember.filter((m) => m.steeringSeats > 0);
  const steeringCategories = new Set(steering.map((m) => m.category));

  return {
    window,
    steeringCoverage: ratio(steering.length, memberCount),
    categoryCoverage: ratio(steeringCategories.size, present.length),
    blau: {
      membership: blau(CATEGORIES.map((c) => byCategory[c].members)),
      steering: blau(CATEGORIES.map((c) => byCategory[c].steeringSeats)),
    },
    byCategory,
    byMember,
  };
}

/** The participation as of valid time `t`. */
export function participationAt(
  ledger: Ledger,
  t: ValidTime,
  options: ParticipationOptions = {},
): Participation {
  return participationOf(ledgerAt(ledger, t), t, options);
}
