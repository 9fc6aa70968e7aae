import {
  type ActivityState,
  type AssociateState,
  compileLedger,
  type DecisionState,
  type EnrolmentState,
  enrolledOf,
  type Fact,
  type Ledger,
  type LedgerState,
  type LedgerWarning,
  type LegalEntityState,
  ledgerFinal,
  type MeetingState,
  type MemberName,
  type RecognitionState,
  replayLedger,
  type SpaceState,
} from '@ptce/domain';
import type { Category, SpaceRules, ValidTime } from '@ptce/events';

/*
 * What the read side asks of a PTCE's ledger at a valid time. Each answer is a replay the
 * ledger's cache keeps (see LedgerCache): it never changes, however the ledger grows after.
 */

/** The state as of valid time `t` (a date includes its whole Paris day). */
export function ledgerAt(ledger: Ledger, t: ValidTime): LedgerState {
  return replayLedger(ledger, { kind: 'asOf', at: t });
}

export interface ActiveMember {
  readonly organisationId: string;
  /** Sealed for a natural person: only a reader holding the key-encryption key opens it. */
  readonly name: MemberName;
  readonly category: Category;
  readonly joinedAt: ValidTime;
  readonly joinEventId: string;
  readonly isPilot: boolean;
  readonly isAssociate: boolean;
}

const byId =
  <T>(key: (x: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0;

export function activeMembersOf(state: LedgerState): ActiveMember[] {
  return [...state.members.values()]
    .map((m) => ({
      organisationId: m.organisationId,
      name: m.name,
      category: m.category,
      joinedAt: m.joinedAt,
      joinEventId: m.joinEventId,
      isPilot: state.pilotId === m.organisationId,
      isAssociate: state.associates.has(m.organisationId),
    }))
    .sort(byId((m) => m.organisationId));
}

export function isRegistered(ledger: Ledger, t: ValidTime): boolean {
  return ledgerAt(ledger, t).registration !== null;
}

/** The registration's valid time as corrected, or null when the PTCE was never (validly) registered. */
export function registeredAt(ledger: Ledger): ValidTime | null {
  return ledgerFinal(ledger).registration?.at ?? null;
}

export function activeMembers(ledger: Ledger, t: ValidTime): ActiveMember[] {
  return activeMembersOf(ledgerAt(ledger, t));
}

export function isActiveMember(ledger: Ledger, organisationId: string, t: ValidTime): boolean {
  return ledgerAt(ledger, t).members.has(organisationId);
}

export function pilotAt(ledger: Ledger, t: ValidTime): string | null {
  return ledgerAt(ledger, t).pilotId;
}

export interface OpenSpace
  extends Pick<SpaceState, 'spaceId' | 'kind' | 'name' | 'themes' | 'rules' | 'openedAt'> {
  readonly enrolled: readonly EnrolmentState[];
}

export function openSpacesOf(state: LedgerState): OpenSpace[] {
  return [...state.spaces.values()]
    .filter((s) => !s.closedAt)
    .map((s) => ({
      spaceId: s.spaceId,
      kind: s.kind,
      name: s.name,
      themes: s.themes,
      rules: s.rules,
      openedAt: s.openedAt,
      enrolled: enrolledOf(state, s.spaceId),
    }))
    .sort(byId((s) => s.spaceId));
}

export function openSpaces(ledger: Ledger, t: ValidTime): OpenSpace[] {
  return openSpacesOf(ledgerAt(ledger, t));
}

export function spaceRulesAt(ledger: Ledger, spaceId: string, t: ValidTime): SpaceRules | null {
  return ledgerAt(ledger, t).spaces.get(spaceId)?.rules ?? null;
}

/** Enrolled members of an open space at `t`, only while they are also active PTCE members. */
export function enrolledMembers(ledger: Ledger, spaceId: string, t: ValidTime): EnrolmentState[] {
  return enrolledOf(ledgerAt(ledger, t), spaceId);
}

export function meetings(ledger: Ledger, t: ValidTime): MeetingState[] {
  return [...ledgerAt(ledger, t).meetings.values()];
}

export interface ActivityView {
  readonly activityId: string;
  readonly name: string;
  readonly theme?: string;
  readonly spaceId?: string;
  readonly launchedAt: ValidTime;
  readonly carriers: readonly string[];
  readonly eventId: string;
}

export function activitiesOf(state: LedgerState): ActivityView[] {
  return [...state.activities.values()]
    .filter((a: ActivityState) => !a.endedAt)
    .map((a) => ({
      activityId: a.activityId,
      name: a.name,
      ...(a.theme ? { theme: a.theme } : {}),
      ...(a.spaceId ? { spaceId: a.spaceId } : {}),
      launchedAt: a.launchedAt,
      carriers: [...a.carriers.keys()].filter((c) => state.members.has(c)).sort(),
      eventId: a.eventId,
    }))
    .sort(byId((a) => a.activityId));
}

/** Activities running at `t` (not ended) with their carriers that are active members. */
export function activitiesAt(ledger: Ledger, t: ValidTime): ActivityView[] {
  return activitiesOf(ledgerAt(ledger, t));
}

export function legalEntityAt(ledger: Ledger, t: ValidTime): LegalEntityState | null {
  return ledgerAt(ledger, t).legalEntity;
}

export function associatesOf(state: LedgerState): AssociateState[] {
  return [...state.associates.values()]
    .filter((a) => state.members.has(a.organisationId))
    .sort(byId((a) => a.organisationId));
}

/** Associates of the shared entity at `t` that are active PTCE members. */
export function associatesAt(ledger: Ledger, t: ValidTime): AssociateState[] {
  return associatesOf(ledgerAt(ledger, t));
}

/** Decisions taken at or before `t`, in valid-time order, annulled ones flagged (annulment at or before `t`). */
export function decisions(ledger: Ledger, t: ValidTime): DecisionState[] {
  return [...ledgerAt(ledger, t).decisions.values()];
}

export function recognitions(ledger: Ledger, t: ValidTime): RecognitionState[] {
  return [...ledgerAt(ledger, t).recognitions];
}

/** What was skipped and why, for the state as of `t` (default: every fact). */
export function warnings(ledger: Ledger, t?: ValidTime): readonly LedgerWarning[] {
  return (t === undefined ? ledgerFinal(ledger) : ledgerAt(ledger, t)).warnings;
}

/** Every fact in valid-time order with its corrected valid time: the change points of any timeline. */
export function facts(ledger: Ledger): readonly Fact[] {
  return compileLedger(ledger).facts;
}
