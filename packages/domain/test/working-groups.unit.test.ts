import { describe, it } from 'vitest';
import { decideWorkingGroups, type WorkingGroupsCommand } from '../src/index.ts';
import { deciderSpec, enrolled, joined, left, met, opened, recordedNow, registered } from './decider-spec.ts';

const spec = deciderSpec<WorkingGroupsCommand>(decideWorkingGroups);
const enrol = (organisationId: string, occurredAt: string, spaceId = 's'): WorkingGroupsCommand => ({
  type: 'EnrolMember',
  spaceId,
  organisationId,
  occurredAt,
});
const closed = (spaceId: string, at: string) => (l: import('./fixtures.ts').LogBuilder) => {
  l.add('SpaceClosed', at, { spaceId });
};

describe('OpenSpace', () => {
  it('opens with the default rules', () =>
    spec
      .given(registered)
      .when({
        type: 'OpenSpace',
        spaceId: 's',
        kind: 'operational',
        name: 'GT',
        themes: ['food'],
        occurredAt: '2020-02-01',
      })
      .thenEmits([
        {
          type: 'SpaceOpened',
          data: {
            spaceId: 's',
            kind: 'operational',
            name: 'GT',
            themes: ['food'],
            rules: { quorum: 0.5, majority: 'simple' },
          },
          occurredAt: '2020-02-01',
        },
      ]));
  it('409 for an existing space', () =>
    spec
      .given(registered, opened('s', '2020-02-01'))
      .when({ type: 'OpenSpace', spaceId: 's', kind: 'strategic', name: 'S', occurredAt: '2020-03-01' })
      .thenThrows('space_already_exists', 409));
  it('422 before registration', () =>
    spec
      .given(registered)
      .when({ type: 'OpenSpace', spaceId: 's', kind: 'strategic', name: 'S', occurredAt: '2019-03-01' })
      .thenThrows('before_registration', 422));
});

describe('EnrolMember', () => {
  const base = [registered, joined('b', '2020-02-01'), opened('s', '2020-02-01')];
  it('enrols an active member as member by default', () =>
    spec
      .given(...base)
      .when(enrol('b', '2020-02-01'))
      .thenEmits([
        {
          type: 'MemberEnrolled',
          data: { spaceId: 's', organisationId: 'b', role: 'member' },
          occurredAt: '2020-02-01',
        },
      ]));
  it('422 naming a non-member at that date', () =>
    spec
      .given(...base)
      .when(enrol('b', '2020-01-15'))
      .thenThrows('before_space_opened', 422));
  it('422 not_a_member_at_date', () =>
    spec
      .given(...base)
      .when(enrol('z', '2020-03-01'))
      .thenThrows('not_a_member_at_date', 422, { offenders: ['z'] }));
  it('422 for a member who left', () =>
    spec
      .given(...base, left('b', '2020-02-15'))
      .when(enrol('b', '2020-03-01'))
      .thenThrows('not_a_member_at_date', 422));
  it('409 enrolled twice', () =>
    spec
      .given(...base, enrolled('s', 'b', '2020-02-01'))
      .when(enrol('b', '2020-03-01'))
      .thenThrows('already_enrolled', 409));
  it('404 unknown space', () =>
    spec
      .given(...base)
      .when(enrol('b', '2020-03-01', 'nope'))
      .thenThrows('space_not_found', 404));
  it('409 closed space', () =>
    spec
      .given(...base, closed('s', '2020-02-15'))
      .when(enrol('b', '2020-03-01'))
      .thenThrows('space_closed', 409));
});

describe('WithdrawFromSpace / CloseSpace', () => {
  const base = [
    registered,
    joined('b', '2020-02-01'),
    opened('s', '2020-02-01'),
    enrolled('s', 'b', '2020-02-01'),
  ];
  it('withdraws', () =>
    spec
      .given(...base)
      .when({ type: 'WithdrawFromSpace', spaceId: 's', organisationId: 'b', occurredAt: '2020-03-01' })
      .thenEmits([
        {
          type: 'MemberWithdrawnFromSpace',
          data: { spaceId: 's', organisationId: 'b' },
          occurredAt: '2020-03-01',
        },
      ]));
  it('409 not enrolled', () =>
    spec
      .given(...base)
      .when({ type: 'WithdrawFromSpace', spaceId: 's', organisationId: 'a', occurredAt: '2020-03-01' })
      .thenThrows('not_enrolled', 409));
  it('closes', () =>
    spec
      .given(...base)
      .when({ type: 'CloseSpace', spaceId: 's', occurredAt: '2020-03-01' })
      .thenEmits([{ type: 'SpaceClosed', data: { spaceId: 's' }, occurredAt: '2020-03-01' }]));
  it('409 closing twice', () =>
    spec
      .given(...base, closed('s', '2020-03-01'))
      .when({ type: 'CloseSpace', spaceId: 's', occurredAt: '2020-04-01' })
      .thenThrows('space_closed', 409));
  it('409 closing before a later closure', () =>
    spec
      .given(...base, closed('s', '2020-05-01'))
      .when({ type: 'CloseSpace', spaceId: 's', occurredAt: '2020-04-01' })
      .thenThrows('space_closed', 409));
});

describe('HoldMeeting / CorrectMeeting', () => {
  const base = [
    registered,
    joined('b', '2020-02-01'),
    opened('s', '2020-02-01'),
    enrolled('s', 'a', '2020-02-01'),
    enrolled('s', 'b', '2020-03-01'),
  ];
  const hold = (attendees: string[], occurredAt: string): WorkingGroupsCommand => ({
    type: 'HoldMeeting',
    spaceId: 's',
    meetingId: 'm1',
    attendees,
    guests: 2,
    occurredAt,
  });
  it('records a meeting of enrolled attendees', () =>
    spec
      .given(...base)
      .when(hold(['a', 'b'], '2020-03-01'))
      .thenEmits([
        {
          type: 'MeetingHeld',
          data: { spaceId: 's', meetingId: 'm1', attendees: ['a', 'b'], guests: 2 },
          occurredAt: '2020-03-01',
        },
      ]));
  it('422 attendees_not_enrolled with the offenders', () =>
    spec
      .given(...base)
      .when(hold(['a', 'b', 'z'], '2020-02-15'))
      .thenThrows('attendees_not_enrolled', 422, { offenders: ['b', 'z'] }));
  it('409 for an existing meeting id', () =>
    spec
      .given(...base, met('s', 'm1', ['a'], '2020-02-10'))
      .when(hold(['a'], '2020-03-10'))
      .thenThrows('meeting_already_exists', 409));
  it('corrects a meeting, checking the attendees at the corrected date', () => {
    const g = spec.given(...base, met('s', 'm1', ['a'], '2020-02-10'));
    g.when({
      type: 'CorrectMeeting',
      spaceId: 's',
      meetingId: 'm1',
      fields: { attendees: ['a', 'b'], heldAt: '2020-03-02' },
      reason: 'r',
    }).thenEmits([
      recordedNow('MeetingCorrected', {
        correctsEventId: 'meet-m1',
        spaceId: 's',
        meetingId: 'm1',
        fields: { attendees: ['a', 'b'], heldAt: '2020-03-02' },
        reason: 'r',
      }),
    ]);
    g.when({
      type: 'CorrectMeeting',
      spaceId: 's',
      meetingId: 'm1',
      fields: { attendees: ['a', 'b'] },
      reason: 'r',
    }).thenThrows('attendees_not_enrolled', 422, { offenders: ['b'] });
    g.when({
      type: 'CorrectMeeting',
      spaceId: 's',
      meetingId: 'm9',
      fields: { attendees: ['a'] },
      reason: 'r',
    }).thenThrows('meeting_not_found', 404);
  });
});

describe('activities', () => {
  const base = [registered, joined('b', '2020-02-01'), opened('s', '2020-02-01', 'simple', 'operational')];
  const launched = (l: import('./fixtures.ts').LogBuilder) => {
    l.add('ActivityLaunched', '2020-03-01', { activityId: 'act', name: 'Garage', carriers: ['a'] });
  };
  it('launches with active carriers', () =>
    spec
      .given(...base)
      .when({
        type: 'LaunchActivity',
        activityId: 'act',
        name: 'Garage',
        theme: 'mobility',
        carriers: ['a', 'b'],
        spaceId: 's',
        occurredAt: '2020-03-01',
      })
      .thenEmits([
        {
          type: 'ActivityLaunched',
          data: { activityId: 'act', name: 'Garage', theme: 'mobility', carriers: ['a', 'b'], spaceId: 's' },
          occurredAt: '2020-03-01',
        },
      ]));
  it('422 naming carriers that are not members', () =>
    spec
      .given(...base)
      .when({
        type: 'LaunchActivity',
        activityId: 'act',
        name: 'G',
        carriers: ['a', 'z'],
        occurredAt: '2020-03-01',
      })
      .thenThrows('not_a_member_at_date', 422, { offenders: ['z'] }));
  it('409 for an existing activity', () =>
    spec
      .given(...base, launched)
      .when({
        type: 'LaunchActivity',
        activityId: 'act',
        name: 'G',
        carriers: ['a'],
        occurredAt: '2020-04-01',
      })
      .thenThrows('activity_already_exists', 409));
  it('adds a carrier; refuses non-members, unknown activities, dates before launch, duplicates', () => {
    const g = spec.given(...base, launched);
    g.when({
      type: 'JoinActivityCarrier',
      activityId: 'act',
      organisationId: 'b',
      occurredAt: '2020-04-01',
    }).thenEmits([
      { type: 'CarrierJoined', data: { activityId: 'act', organisationId: 'b' }, occurredAt: '2020-04-01' },
    ]);
    g.when({
      type: 'JoinActivityCarrier',
      activityId: 'act',
      organisationId: 'z',
      occurredAt: '2020-04-01',
    }).thenThrows('not_a_member_at_date', 422);
    g.when({
      type: 'JoinActivityCarrier',
      activityId: 'nope',
      organisationId: 'b',
      occurredAt: '2020-04-01',
    }).thenThrows('activity_not_found', 404);
    g.when({
      type: 'JoinActivityCarrier',
      activityId: 'act',
      organisationId: 'b',
      occurredAt: '2020-02-15',
    }).thenThrows('before_activity_launched', 422);
    g.when({
      type: 'JoinActivityCarrier',
      activityId: 'act',
      organisationId: 'a',
      occurredAt: '2020-04-01',
    }).thenThrows('already_carrier', 409);
  });
  it('ends an activity once', () => {
    spec
      .given(...base, launched)
      .when({ type: 'EndActivity', activityId: 'act', reason: 'done', occurredAt: '2020-05-01' })
      .thenEmits([
        { type: 'ActivityEnded', data: { activityId: 'act', reason: 'done' }, occurredAt: '2020-05-01' },
      ]);
    spec
      .given(...base, launched, (l) => l.add('ActivityEnded', '2020-05-01', { activityId: 'act' }))
      .when({ type: 'EndActivity', activityId: 'act', occurredAt: '2020-06-01' })
      .thenThrows('activity_ended', 409);
  });
});

describe('same-day ordering', () => {
  // A date is ordered before any instant of that day: an enrolment dated on the day cannot rely
  // on a join recorded at an hour of that same day.
  const base = [
    registered,
    opened('s', '2020-02-01'),
    (l: import('./fixtures.ts').LogBuilder) => {
      l.add('MemberJoined', '2020-03-01T15:00:00+01:00', {
        organisationId: 'b',
        name: 'B',
        category: 'enterprise',
      });
    },
  ];
  it('refuses a date enrolment on the day of an instant join', () =>
    spec
      .given(...base)
      .when(enrol('b', '2020-03-01'))
      .thenThrows('not_a_member_at_date', 422));
  it('accepts an enrolment at a later instant of that day', () =>
    spec
      .given(...base)
      .when(enrol('b', '2020-03-01T16:00:00+01:00'))
      .thenEmits([
        {
          type: 'MemberEnrolled',
          data: { spaceId: 's', organisationId: 'b', role: 'member' },
          occurredAt: '2020-03-01T16:00:00+01:00',
        },
      ]));
  it('refuses an enrolment at an earlier instant of that day', () =>
    spec
      .given(...base)
      .when(enrol('b', '2020-03-01T14:00:00+01:00'))
      .thenThrows('not_a_member_at_date', 422));
});
