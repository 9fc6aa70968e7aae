import { describe, it } from 'vitest';
import { decideMembership, type EventToAppend, type MembershipCommand } from '../src/index.ts';
import { deciderSpec, enrolled, joined, left, opened, recordedNow, registered } from './decider-spec.ts';

const spec = deciderSpec<MembershipCommand>(decideMembership);
const join = (organisationId: string, occurredAt: string): MembershipCommand => ({
  type: 'JoinMember',
  organisationId,
  name: organisationId.toUpperCase(),
  category: 'enterprise',
  occurredAt,
});
/** The MemberJoined that `join(organisationId, occurredAt)` must emit. */
const memberJoined = (organisationId: string, occurredAt: string): EventToAppend => ({
  type: 'MemberJoined',
  data: { organisationId, name: organisationId.toUpperCase(), category: 'enterprise' },
  occurredAt,
});

describe('RegisterPtce', () => {
  const cmd: MembershipCommand = {
    type: 'RegisterPtce',
    ptceId: 'p',
    name: 'P',
    territory: { name: 'T', rural: true },
    pilot: { organisationId: 'a', name: 'A', category: 'ess_enterprise' },
    occurredAt: '2020-01-01',
    evidence: { source: 'minutes' },
  };
  const ptceRegistered = (occurredAt: string): EventToAppend => ({
    type: 'PtceRegistered',
    data: {
      name: 'P',
      territory: { name: 'T', rural: true },
      pilot: { organisationId: 'a', name: 'A', category: 'ess_enterprise' },
    },
    occurredAt,
    evidence: { source: 'minutes' },
  });
  it('registers a new PTCE with its pilot', () => {
    spec
      .given()
      .when(cmd)
      .thenEmits([ptceRegistered('2020-01-01')]);
  });
  it('refuses an existing PTCE', () =>
    spec.given(registered).when(cmd).thenThrows('ptce_already_registered', 409));
  it('refuses a date more than a day ahead', () =>
    spec
      .given()
      .when({ ...cmd, occurredAt: '2024-06-03' })
      .thenThrows('occurred_in_future', 422));
  it('accepts tomorrow', () =>
    spec
      .given()
      .when({ ...cmd, occurredAt: '2024-06-02' })
      .thenEmits([ptceRegistered('2024-06-02')]));
});

describe('JoinMember', () => {
  it('joins', () =>
    spec
      .given(registered)
      .when(join('b', '2020-02-01'))
      .thenEmits([
        {
          type: 'MemberJoined',
          data: { organisationId: 'b', name: 'B', category: 'enterprise' },
          occurredAt: '2020-02-01',
        },
      ]));
  it('404 on an unknown PTCE', () =>
    spec.given().when(join('b', '2020-02-01')).thenThrows('ptce_not_found', 404));
  it('422 before registration', () =>
    spec.given(registered).when(join('b', '2019-12-31')).thenThrows('before_registration', 422));
  it('accepts a join on the day of registration', () =>
    spec
      .given(registered)
      .when(join('b', '2020-01-01'))
      .thenEmits([memberJoined('b', '2020-01-01')]));
  it('409 when already active at that date', () =>
    spec
      .given(registered, joined('b', '2020-02-01'))
      .when(join('b', '2020-03-01'))
      .thenThrows('already_member', 409, { organisationId: 'b' }));
  it('409 when a later join has no leave in between', () =>
    spec
      .given(registered, joined('b', '2020-03-01'))
      .when(join('b', '2020-02-01'))
      .thenThrows('already_member', 409));
  it('rejoins after leaving', () =>
    spec
      .given(registered, joined('b', '2020-02-01'), left('b', '2020-03-01'))
      .when(join('b', '2020-04-01'))
      .thenEmits([memberJoined('b', '2020-04-01')]));
  it('refuses a backdated join that would contradict a later one after a leave', () =>
    spec
      .given(registered, joined('b', '2020-02-01'), left('b', '2020-03-01'), joined('b', '2020-04-01'))
      .when(join('b', '2020-03-15'))
      .thenThrows('already_member', 409));
});

describe('LeaveMember', () => {
  it('leaves', () =>
    spec
      .given(registered, joined('b', '2020-02-01'))
      .when({ type: 'LeaveMember', organisationId: 'b', reason: 'moved', occurredAt: '2020-03-01' })
      .thenEmits([
        { type: 'MemberLeft', data: { organisationId: 'b', reason: 'moved' }, occurredAt: '2020-03-01' },
      ]));
  it('409 when not active', () =>
    spec
      .given(registered)
      .when({ type: 'LeaveMember', organisationId: 'b', occurredAt: '2020-03-01' })
      .thenThrows('not_a_member', 409));
  it('409 for the pilot', () =>
    spec
      .given(registered)
      .when({ type: 'LeaveMember', organisationId: 'a', occurredAt: '2020-03-01' })
      .thenThrows('pilot_cannot_leave', 409));
  it('the former pilot may leave once another is named', () =>
    spec
      .given(registered, joined('b', '2020-02-01'), (l) =>
        l.add('PilotHandedOver', '2020-02-15', { organisationId: 'b', previousPilotId: 'a' }),
      )
      .when({ type: 'LeaveMember', organisationId: 'a', occurredAt: '2020-03-01' })
      .thenEmits([{ type: 'MemberLeft', data: { organisationId: 'a' }, occurredAt: '2020-03-01' }]));
  it('422 when a backdated leave contradicts a later enrolment', () =>
    spec
      .given(
        registered,
        joined('b', '2020-02-01'),
        opened('s', '2020-02-01'),
        enrolled('s', 'b', '2020-04-01'),
      )
      .when({ type: 'LeaveMember', organisationId: 'b', occurredAt: '2020-03-01' })
      .thenThrows('contradicts_history', 422));
});

describe('CorrectMembership', () => {
  it('names the join it corrects and acts in transaction time', () => {
    const g = spec.given(registered, joined('b', '2020-02-01'));
    g.when(
      {
        type: 'CorrectMembership',
        organisationId: 'b',
        fields: { joinedAt: '2020-02-10' },
        reason: 'convention',
      },
      { now: Date.parse('2024-06-01T12:00:00Z') },
    ).thenEmits([
      {
        type: 'MembershipCorrected',
        data: {
          correctsEventId: 'join-b-2020-02-01',
          organisationId: 'b',
          fields: { joinedAt: '2020-02-10' },
          reason: 'convention',
        },
        occurredAt: '2024-06-01T12:00:00.000Z',
      },
    ]);
  });
  it('404 for an organisation with no record', () =>
    spec
      .given(registered)
      .when({ type: 'CorrectMembership', organisationId: 'z', fields: { name: 'Z' }, reason: 'r' })
      .thenThrows('member_not_found', 404));
  it('404 for a retracted record', () =>
    spec
      .given(registered, joined('b', '2020-02-01'), (l) =>
        l.now('EventRetracted', {
          retractedEventId: 'join-b-2020-02-01',
          retractedType: 'MemberJoined',
          reason: 'r',
        }),
      )
      .when({ type: 'CorrectMembership', organisationId: 'b', fields: { name: 'B2' }, reason: 'r' })
      .thenThrows('member_not_found', 404));
  it('422 for a joinedAt before registration', () =>
    spec
      .given(registered, joined('b', '2020-02-01'))
      .when({
        type: 'CorrectMembership',
        organisationId: 'b',
        fields: { joinedAt: '2019-01-01' },
        reason: 'r',
      })
      .thenThrows('before_registration', 422));
  it('422 with nothing to correct', () =>
    spec
      .given(registered, joined('b', '2020-02-01'))
      .when({ type: 'CorrectMembership', organisationId: 'b', fields: {}, reason: 'r' })
      .thenThrows('nothing_to_correct', 422));
});

describe('HandOverPilot', () => {
  it('hands over to an active member', () =>
    spec
      .given(registered, joined('b', '2020-02-01'))
      .when({ type: 'HandOverPilot', organisationId: 'b', occurredAt: '2020-03-01' })
      .thenEmits([
        {
          type: 'PilotHandedOver',
          data: { organisationId: 'b', previousPilotId: 'a' },
          occurredAt: '2020-03-01',
        },
      ]));
  it('422 to a non-member', () =>
    spec
      .given(registered)
      .when({ type: 'HandOverPilot', organisationId: 'b', occurredAt: '2020-03-01' })
      .thenThrows('not_a_member_at_date', 422, { organisationId: 'b' }));
  it('409 to the current pilot', () =>
    spec
      .given(registered)
      .when({ type: 'HandOverPilot', organisationId: 'a', occurredAt: '2020-03-01' })
      .thenThrows('already_pilot', 409));
});

const entity = (l: import('./fixtures.ts').LogBuilder) => {
  l.add('LegalEntityRegistered', '2021-01-05', { name: 'SCIC', legalForm: 'scic' }, 'entity');
};

describe('legal entity and associates', () => {
  it('registers the entity', () =>
    spec
      .given(registered)
      .when({
        type: 'RegisterLegalEntity',
        name: 'SCIC',
        legalForm: 'scic',
        registrationId: '000',
        occurredAt: '2021-01-05',
      })
      .thenEmits([
        {
          type: 'LegalEntityRegistered',
          data: { name: 'SCIC', legalForm: 'scic', registrationId: '000' },
          occurredAt: '2021-01-05',
        },
      ]));
  it('409 for a second entity', () =>
    spec
      .given(registered, entity)
      .when({ type: 'RegisterLegalEntity', name: 'X', legalForm: 'sas', occurredAt: '2022-01-05' })
      .thenThrows('legal_entity_already_registered', 409));
  it('corrects the entity by naming its registration', () =>
    spec
      .given(registered, entity)
      .when({ type: 'CorrectLegalEntity', fields: { registeredAt: '2021-01-06' }, reason: 'Kbis' })
      .thenEmits([
        recordedNow('LegalEntityCorrected', {
          correctsEventId: 'entity',
          fields: { registeredAt: '2021-01-06' },
          reason: 'Kbis',
        }),
      ]));
  it('404 correcting a missing entity', () =>
    spec
      .given(registered)
      .when({ type: 'CorrectLegalEntity', fields: { name: 'X' }, reason: 'r' })
      .thenThrows('legal_entity_not_found', 404));
  it('admits an active member as associate', () =>
    spec
      .given(registered, entity)
      .when({ type: 'AdmitAssociate', organisationId: 'a', college: 'producteurs', occurredAt: '2021-01-05' })
      .thenEmits([
        {
          type: 'AssociateAdmitted',
          data: { organisationId: 'a', college: 'producteurs' },
          occurredAt: '2021-01-05',
        },
      ]));
  it('422 admitting a non-member', () =>
    spec
      .given(registered, entity)
      .when({ type: 'AdmitAssociate', organisationId: 'z', occurredAt: '2021-01-05' })
      .thenThrows('not_a_member_at_date', 422, { organisationId: 'z' }));
  it('422 admitting before the entity exists', () =>
    spec
      .given(registered, entity)
      .when({ type: 'AdmitAssociate', organisationId: 'a', occurredAt: '2021-01-04' })
      .thenThrows('no_legal_entity', 422));
  it('409 admitting twice', () =>
    spec
      .given(registered, entity, (l) => l.add('AssociateAdmitted', '2021-01-05', { organisationId: 'a' }))
      .when({ type: 'AdmitAssociate', organisationId: 'a', occurredAt: '2021-02-01' })
      .thenThrows('already_associate', 409));
  it('withdraws an associate, 409 if not one', () => {
    const g = spec.given(registered, entity, (l) =>
      l.add('AssociateAdmitted', '2021-01-05', { organisationId: 'a' }),
    );
    g.when({ type: 'WithdrawAssociate', organisationId: 'a', occurredAt: '2021-02-01' }).thenEmits([
      { type: 'AssociateWithdrew', data: { organisationId: 'a' }, occurredAt: '2021-02-01' },
    ]);
    g.when({ type: 'WithdrawAssociate', organisationId: 'a', occurredAt: '2021-01-04' }).thenThrows(
      'not_an_associate',
      409,
    );
  });
  it('grants a recognition', () =>
    spec
      .given(registered)
      .when({
        type: 'GrantRecognition',
        programme: 'AMI',
        grantor: 'État',
        amountEur: 100000,
        occurredAt: '2021-09-15',
      })
      .thenEmits([
        {
          type: 'RecognitionGranted',
          data: { programme: 'AMI', grantor: 'État', amountEur: 100000 },
          occurredAt: '2021-09-15',
        },
      ]));
});

describe('RetractEvent', () => {
  const g = () => spec.given(registered, joined('b', '2020-02-01'));
  it('retracts an event of the PTCE, naming its type', () =>
    g()
      .when({ type: 'RetractEvent', eventId: 'join-b-2020-02-01', reason: 'wrong PTCE' })
      .thenEmits([
        recordedNow('EventRetracted', {
          retractedEventId: 'join-b-2020-02-01',
          retractedType: 'MemberJoined',
          reason: 'wrong PTCE',
        }),
      ]));
  it('404 for an event not in this PTCE', () =>
    g().when({ type: 'RetractEvent', eventId: 'elsewhere', reason: 'r' }).thenThrows('event_not_found', 404));
  it('409 retracting twice', () =>
    spec
      .given(registered, joined('b', '2020-02-01'), (l) =>
        l.now('EventRetracted', {
          retractedEventId: 'join-b-2020-02-01',
          retractedType: 'MemberJoined',
          reason: 'r',
        }),
      )
      .when({ type: 'RetractEvent', eventId: 'join-b-2020-02-01', reason: 'r' })
      .thenThrows('already_retracted', 409));
  it('422 retracting the registration', () =>
    g()
      .when({ type: 'RetractEvent', eventId: 'e1', reason: 'r' })
      .thenThrows('cannot_retract_registration', 422));
});
