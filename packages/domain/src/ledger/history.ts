import { endInstant, type SpaceRules, startInstant, type ValidTime } from '@ptce/events';
import type { EnrolmentPeriod, LedgerState, SpaceState } from './types.ts';

/*
 * Questions about dates that one replayed state answers from the histories it keeps, whatever
 * the date asked: replayed with every fact (`ledgerFinal`), a state knows every period.
 *
 * "At a date" reads as a replay as of that date does: a date includes its whole day, so a period
 * that starts on `at` covers it and one that ends on `at` no longer does.
 */

/** Does a fact at `time` belong to the state as of `at`? */
const isAtOrBefore = (time: ValidTime, at: ValidTime): boolean => startInstant(time) <= endInstant(at);

/** Does a period from `start` until `end` (open when absent) cover `at`? */
export function coversAt(start: ValidTime, end: ValidTime | undefined, at: ValidTime): boolean {
  return isAtOrBefore(start, at) && (end === undefined || !isAtOrBefore(end, at));
}

/** Was `organisationId` enrolled in the space at `at`, by the periods the state knows? */
export function wasEnrolledAt(
  state: LedgerState,
  spaceId: string,
  organisationId: string,
  at: ValidTime,
): boolean {
  const periods = state.spaces.get(spaceId)?.periods.get(organisationId) ?? [];
  return periods.some((p) => coversAt(p.enrolledAt, p.endedAt, at));
}

/** The member's enrolment periods, by space (spaces in id order, periods oldest first). */
export function enrolmentPeriodsOf(
  state: LedgerState,
  organisationId: string,
): Map<string, readonly EnrolmentPeriod[]> {
  const out = new Map<string, readonly EnrolmentPeriod[]>();
  const ids = [...state.spaces.keys()].sort();
  for (const spaceId of ids) {
    const periods = state.spaces.get(spaceId)?.periods.get(organisationId);
    if (periods?.length) out.set(spaceId, periods);
  }
  return out;
}

/**
 * The rules the space decides by at `at`: the latest change dated at or before it, else the rules
 * the space opened with; null before the space opened.
 */
export function rulesInForce(space: SpaceState, at: ValidTime): SpaceRules | null {
  let rules: SpaceRules | null = null;
  for (const change of space.rulesHistory) {
    if (!isAtOrBefore(change.from, at)) break;
    rules = change.rules;
  }
  return rules;
}
