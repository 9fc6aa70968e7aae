import type { ValidTime } from '@ptce/events';
import type { EnrolmentState, Ledger, LedgerState, SpaceState } from '../ledger/types.ts';
import { finalState } from './decider.ts';
import { refuse } from './refusals.ts';

/** Enrolled members of an open space, only while they are also active PTCE members. */
export function enrolledOf(state: LedgerState, spaceId: string): EnrolmentState[] {
  const space = state.spaces.get(spaceId);
  if (!space || space.closedAt) return [];
  return [...space.enrolled.values()]
    .filter((e) => state.members.has(e.organisationId))
    .sort((a, b) => (a.organisationId < b.organisationId ? -1 : a.organisationId > b.organisationId ? 1 : 0));
}

/** The space as it stands at `at`: 404 if it never existed, 422 if opened later, 409 if closed. */
export function openSpaceAt(ledger: Ledger, state: LedgerState, spaceId: string, at: ValidTime): SpaceState {
  const ever = finalState(ledger).spaces.get(spaceId);
  if (!ever) throw refuse('space_not_found', `space ${spaceId} does not exist`, { spaceId });
  const space = state.spaces.get(spaceId);
  if (!space)
    throw refuse('before_space_opened', `space ${spaceId} opens on ${ever.openedAt}, after ${at}`, {
      spaceId,
    });
  if (space.closedAt)
    throw refuse('space_closed', `space ${spaceId} was closed on ${space.closedAt}`, { spaceId });
  return space;
}

export function assertMembersAt(state: LedgerState, orgs: readonly string[], at: ValidTime): void {
  const offenders = orgs.filter((o) => !state.members.has(o));
  if (offenders.length) {
    throw refuse('not_a_member_at_date', `not active members at ${at}: ${offenders.join(', ')}`, {
      offenders,
    });
  }
}

export function assertEnrolledAt(
  state: LedgerState,
  spaceId: string,
  orgs: readonly string[],
  at: ValidTime,
): void {
  const enrolled = new Set(enrolledOf(state, spaceId).map((e) => e.organisationId));
  const offenders = orgs.filter((o) => !enrolled.has(o));
  if (offenders.length) {
    throw refuse('attendees_not_enrolled', `not enrolled in ${spaceId} at ${at}: ${offenders.join(', ')}`, {
      offenders,
    });
  }
}
