import { describe, expect, it } from 'vitest';
import {
  decideMembership,
  foldLedger,
  ledgerFinal,
  legalStatusOf,
  type MembershipCommand,
} from '../src/index.ts';
import { deciderSpec, joined, recordedNow, registered } from './decider-spec.ts';
import { LogBuilder } from './fixtures.ts';

const spec = deciderSpec<MembershipCommand>(decideMembership);

describe('legalStatus in the membership commands', () => {
  it('given nothing, when a PTCE is registered with its pilot’s legal status, then the registration stores it', () =>
    spec
      .given()
      .when({
        type: 'RegisterPtce',
        ptceId: 'p',
        name: 'P',
        territory: { name: 'T' },
        pilot: { organisationId: 'a', name: 'A', category: 'other_legal_person', legalStatus: 'public' },
        occurredAt: '2020-01-01',
      })
      .thenEmits([
        {
          type: 'PtceRegistered',
          data: {
            name: 'P',
            territory: { name: 'T' },
            pilot: { organisationId: 'a', name: 'A', category: 'other_legal_person', legalStatus: 'public' },
          },
          occurredAt: '2020-01-01',
        },
      ]));
  it('given a registered PTCE, when a member joins with a legal status, then MemberJoined stores it', () =>
    spec
      .given(registered)
      .when({
        type: 'JoinMember',
        organisationId: 'lab',
        name: 'Lab',
        category: 'research_higher_education',
        legalStatus: 'public',
        occurredAt: '2020-02-01',
      })
      .thenEmits([
        {
          type: 'MemberJoined',
          data: {
            organisationId: 'lab',
            name: 'Lab',
            category: 'research_higher_education',
            legalStatus: 'public',
          },
          occurredAt: '2020-02-01',
        },
      ]));
  it('given a registered PTCE, when a member joins without one, then none is stored', () =>
    spec
      .given(registered)
      .when({
        type: 'JoinMember',
        organisationId: 'b',
        name: 'B',
        category: 'enterprise',
        occurredAt: '2020-02-01',
      })
      .thenEmits([
        {
          type: 'MemberJoined',
          data: { organisationId: 'b', name: 'B', category: 'enterprise' },
          occurredAt: '2020-02-01',
        },
      ]));
  it('given a member, when its legal status is corrected, then MembershipCorrected carries it alone', () =>
    spec
      .given(registered, joined('b', '2020-02-01'))
      .when({
        type: 'CorrectMembership',
        organisationId: 'b',
        fields: { legalStatus: 'public' },
        reason: 'SEM',
      })
      .thenEmits([
        recordedNow('MembershipCorrected', {
          correctsEventId: 'join-b-2020-02-01',
          organisationId: 'b',
          fields: { legalStatus: 'public' },
          reason: 'SEM',
        }),
      ]));
});

describe('legalStatus in the fold', () => {
  const fold = (build: (log: LogBuilder) => void) => {
    const log = new LogBuilder('p');
    build(log);
    return ledgerFinal(foldLedger(log.events));
  };

  it('keeps what the join and the registration gave, and what a correction gives later', () => {
    const state = fold((log) => {
      log.add(
        'PtceRegistered',
        '2020-01-01',
        {
          name: 'P',
          territory: { name: 'T' },
          pilot: { organisationId: 'a', name: 'A', category: 'other_legal_person', legalStatus: 'private' },
        },
        'reg',
      );
      log.add(
        'MemberJoined',
        '2020-02-01',
        { organisationId: 'lab', name: 'Lab', category: 'research_higher_education', legalStatus: 'public' },
        'join-lab',
      );
      log.add(
        'MemberJoined',
        '2020-02-01',
        { organisationId: 'b', name: 'B', category: 'enterprise' },
        'join-b',
      );
      log.now('MembershipCorrected', {
        correctsEventId: 'join-b',
        organisationId: 'b',
        fields: { legalStatus: 'public' },
        reason: 'r',
      });
      log.now('MembershipCorrected', {
        correctsEventId: 'reg',
        organisationId: 'a',
        fields: { legalStatus: 'public' },
        reason: 'r',
      });
    });
    expect(state.members.get('a')?.legalStatus).toBe('public');
    expect(state.members.get('lab')?.legalStatus).toBe('public');
    expect(state.members.get('b')).toMatchObject({ category: 'enterprise', legalStatus: 'public' });
    expect(state.warnings).toEqual([]);
  });

  it('stores nothing when nothing was given', () => {
    const state = fold((log) => {
      registered(log);
      joined('b', '2020-02-01', 'local_authority')(log);
    });
    expect(state.members.get('b')).not.toHaveProperty('legalStatus');
    expect(state.members.get('a')).not.toHaveProperty('legalStatus');
  });
});

describe('legalStatusOf', () => {
  it('is the recorded status when there is one, whatever the category', () => {
    expect(legalStatusOf({ category: 'local_authority', legalStatus: 'private' })).toBe('private');
    expect(legalStatusOf({ category: 'enterprise', legalStatus: 'public' })).toBe('public');
    expect(legalStatusOf({ category: 'natural_person', legalStatus: 'private' })).toBe('private');
  });
  it('else public for local authorities, private for ESS and other enterprises, unknown otherwise', () => {
    expect(legalStatusOf({ category: 'local_authority' })).toBe('public');
    expect(legalStatusOf({ category: 'ess_enterprise' })).toBe('private');
    expect(legalStatusOf({ category: 'enterprise' })).toBe('private');
    for (const category of [
      'research_higher_education',
      'training_body',
      'other_legal_person',
      'natural_person',
    ] as const) {
      expect(legalStatusOf({ category })).toBe('unknown');
    }
  });
});
