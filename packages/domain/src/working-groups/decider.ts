import {
  compareValidTime,
  DEFAULT_SPACE_RULES,
  type EvidenceData,
  type SpaceKind,
  type SpaceRole,
  type SpaceRules,
  type ValidTime,
} from '@ptce/events';
import type { Ledger } from '../ledger/types.ts';
import {
  assertNoNewContradiction,
  assertRegistered,
  assertRegisteredAt,
  type Dated,
  type DecideContext,
  type EventToAppend,
  finalState,
  hasFields,
  transactionTime,
  withEvidence,
  withoutUndefined,
} from '../shared/decider.ts';
import { assertEnrolledAt, assertMembersAt, openSpaceAt } from '../shared/guards.ts';
import { refuse } from '../shared/refusals.ts';

export type WorkingGroupsCommand =
  | (Dated & {
      readonly type: 'OpenSpace';
      readonly spaceId: string;
      readonly kind: SpaceKind;
      readonly name: string;
      readonly themes?: readonly string[];
      readonly rules?: SpaceRules;
    })
  | (Dated & {
      readonly type: 'EnrolMember';
      readonly spaceId: string;
      readonly organisationId: string;
      readonly role?: SpaceRole;
    })
  | (Dated & {
      readonly type: 'WithdrawFromSpace';
      readonly spaceId: string;
      readonly organisationId: string;
    })
  | (Dated & {
      readonly type: 'HoldMeeting';
      readonly spaceId: string;
      readonly meetingId: string;
      readonly attendees: readonly string[];
      readonly guests?: number;
      readonly minutes?: { readonly sha256: string; readonly uri?: string };
    })
  | {
      readonly type: 'CorrectMeeting';
      readonly spaceId: string;
      readonly meetingId: string;
      readonly fields: { readonly attendees?: readonly string[]; readonly heldAt?: ValidTime };
      readonly reason: string;
      readonly evidence?: EvidenceData;
    }
  | (Dated & {
      readonly type: 'ChangeSpaceRules';
      readonly spaceId: string;
      readonly rules: SpaceRules;
      readonly reason?: string;
    })
  | (Dated & { readonly type: 'CloseSpace'; readonly spaceId: string })
  | (Dated & {
      readonly type: 'LaunchActivity';
      readonly activityId: string;
      readonly name: string;
      readonly theme?: string;
      readonly carriers: readonly string[];
      readonly spaceId?: string;
    })
  | (Dated & {
      readonly type: 'JoinActivityCarrier';
      readonly activityId: string;
      readonly organisationId: string;
    })
  | (Dated & { readonly type: 'EndActivity'; readonly activityId: string; readonly reason?: string });

export function decideWorkingGroups(
  command: WorkingGroupsCommand,
  ledger: Ledger,
  ctx: DecideContext,
): EventToAppend[] {
  const events = decide(command, ledger, ctx);
  // A meeting's correction included: it may strand a decision taken at that meeting.
  assertNoNewContradiction(ledger, events, ctx);
  return events;
}

function decide(command: WorkingGroupsCommand, ledger: Ledger, ctx: DecideContext): EventToAppend[] {
  const ev = withEvidence(command.evidence);
  switch (command.type) {
    case 'OpenSpace': {
      assertRegisteredAt(ledger, command.occurredAt, ctx);
      if (finalState(ledger).spaces.has(command.spaceId)) {
        throw refuse('space_already_exists', `space ${command.spaceId} already exists`, {
          spaceId: command.spaceId,
        });
      }
      return [
        {
          type: 'SpaceOpened',
          data: withoutUndefined({
            spaceId: command.spaceId,
            kind: command.kind,
            name: command.name,
            themes: command.themes,
            rules: command.rules ?? DEFAULT_SPACE_RULES,
          }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'EnrolMember': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      const space = openSpaceAt(ledger, state, command.spaceId, command.occurredAt);
      assertMembersAt(state, [command.organisationId], command.occurredAt);
      if (space.enrolled.has(command.organisationId)) {
        throw refuse(
          'already_enrolled',
          `${command.organisationId} is already enrolled in ${command.spaceId}`,
          {
            organisationId: command.organisationId,
          },
        );
      }
      return [
        {
          type: 'MemberEnrolled',
          data: {
            spaceId: command.spaceId,
            organisationId: command.organisationId,
            role: command.role ?? 'member',
          },
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'WithdrawFromSpace': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      const space = openSpaceAt(ledger, state, command.spaceId, command.occurredAt);
      if (!space.enrolled.has(command.organisationId)) {
        throw refuse(
          'not_enrolled',
          `${command.organisationId} is not enrolled in ${command.spaceId} at ${command.occurredAt}`,
          {
            organisationId: command.organisationId,
          },
        );
      }
      return [
        {
          type: 'MemberWithdrawnFromSpace',
          data: { spaceId: command.spaceId, organisationId: command.organisationId },
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'HoldMeeting': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      openSpaceAt(ledger, state, command.spaceId, command.occurredAt);
      if (finalState(ledger).meetings.has(command.meetingId)) {
        throw refuse('meeting_already_exists', `meeting ${command.meetingId} already exists`, {
          meetingId: command.meetingId,
        });
      }
      if (command.attendees.length === 0)
        throw refuse('no_attendees', 'a meeting needs at least one attendee');
      assertEnrolledAt(state, command.spaceId, command.attendees, command.occurredAt);
      return [
        {
          type: 'MeetingHeld',
          data: withoutUndefined({
            spaceId: command.spaceId,
            meetingId: command.meetingId,
            attendees: [...command.attendees],
            guests: command.guests,
            minutes: command.minutes,
          }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'CorrectMeeting': {
      assertRegistered(ledger);
      if (!hasFields(command.fields))
        throw refuse('nothing_to_correct', 'give at least one of attendees, heldAt');
      const meeting = finalState(ledger).meetings.get(command.meetingId);
      if (!meeting || meeting.spaceId !== command.spaceId) {
        throw refuse(
          'meeting_not_found',
          `meeting ${command.meetingId} of space ${command.spaceId} does not exist`,
          {
            meetingId: command.meetingId,
          },
        );
      }
      const at = command.fields.heldAt ?? meeting.heldAt;
      const state = assertRegisteredAt(ledger, at, ctx);
      openSpaceAt(ledger, state, command.spaceId, at);
      assertEnrolledAt(state, command.spaceId, command.fields.attendees ?? meeting.attendees, at);
      return [
        {
          type: 'MeetingCorrected',
          data: {
            correctsEventId: meeting.eventId,
            spaceId: command.spaceId,
            meetingId: command.meetingId,
            fields: withoutUndefined({
              attendees: command.fields.attendees ? [...command.fields.attendees] : undefined,
              heldAt: command.fields.heldAt,
            }),
            reason: command.reason,
          },
          occurredAt: transactionTime(ctx),
          ...ev,
        },
      ];
    }
    case 'ChangeSpaceRules': {
      // A dated change: the space decides by these rules from `occurredAt` on. The space must be
      // open then. Decisions already recorded after that date were taken under other rules: the
      // dry run names them (the fold flags a decision standing on rules not in force at its date).
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      openSpaceAt(ledger, state, command.spaceId, command.occurredAt);
      return [
        {
          type: 'SpaceRulesChanged',
          data: withoutUndefined({
            spaceId: command.spaceId,
            rules: { quorum: command.rules.quorum, majority: command.rules.majority },
            reason: command.reason,
          }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'CloseSpace': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      openSpaceAt(ledger, state, command.spaceId, command.occurredAt);
      const closed = finalState(ledger).spaces.get(command.spaceId)?.closedAt;
      if (closed)
        throw refuse('space_closed', `space ${command.spaceId} was closed on ${closed}`, {
          spaceId: command.spaceId,
        });
      return [
        { type: 'SpaceClosed', data: { spaceId: command.spaceId }, occurredAt: command.occurredAt, ...ev },
      ];
    }
    case 'LaunchActivity': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      if (finalState(ledger).activities.has(command.activityId)) {
        throw refuse('activity_already_exists', `activity ${command.activityId} already exists`, {
          activityId: command.activityId,
        });
      }
      if (command.carriers.length === 0)
        throw refuse('no_carriers', 'an activity needs at least one carrier');
      assertMembersAt(state, command.carriers, command.occurredAt);
      if (command.spaceId) openSpaceAt(ledger, state, command.spaceId, command.occurredAt);
      return [
        {
          type: 'ActivityLaunched',
          data: withoutUndefined({
            activityId: command.activityId,
            name: command.name,
            theme: command.theme,
            carriers: [...command.carriers],
            spaceId: command.spaceId,
          }),
          occurredAt: command.occurredAt,
          ...ev,
        },
      ];
    }
    case 'JoinActivityCarrier':
    case 'EndActivity': {
      const state = assertRegisteredAt(ledger, command.occurredAt, ctx);
      const ever = finalState(ledger).activities.get(command.activityId);
      if (!ever)
        throw refuse('activity_not_found', `activity ${command.activityId} does not exist`, {
          activityId: command.activityId,
        });
      const activity = state.activities.get(command.activityId);
      if (!activity || compareValidTime(command.occurredAt, ever.launchedAt) < 0) {
        throw refuse(
          'before_activity_launched',
          `activity ${command.activityId} is launched on ${ever.launchedAt}`,
        );
      }
      const ended = activity.endedAt ?? ever.endedAt;
      if (ended)
        throw refuse('activity_ended', `activity ${command.activityId} ended on ${ended}`, {
          activityId: command.activityId,
        });
      if (command.type === 'EndActivity') {
        return [
          {
            type: 'ActivityEnded',
            data: withoutUndefined({ activityId: command.activityId, reason: command.reason }),
            occurredAt: command.occurredAt,
            ...ev,
          },
        ];
      }
      assertMembersAt(state, [command.organisationId], command.occurredAt);
      if (activity.carriers.has(command.organisationId)) {
        throw refuse('already_carrier', `${command.organisationId} already carries ${command.activityId}`);
      }
      return [
        {
          type: 'CarrierJoined',
          data: { activityId: command.activityId, organisationId: command.organisationId },
          occurredAt: command.occurredAt,
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
