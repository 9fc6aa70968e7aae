import { describe, expect, it } from 'vitest';
import {
  decideMembership,
  foldLedger,
  isErased,
  type MembershipCommand,
  recordedCategoryOf,
} from '../src/index.ts';
import { deciderSpec, type Given, joined, left, recordedNow, registered } from './decider-spec.ts';
import { LogBuilder } from './fixtures.ts';

const spec = deciderSpec<MembershipCommand>(decideMembership);
const erase = (organisationId: string): MembershipCommand => ({
  type: 'EraseMember',
  organisationId,
  reason: 'demande RGPD',
});
const erased =
  (org: string): Given =>
  (log) => {
    log.add(
      'PersonalDataErased',
      '2024-05-01T00:00:00.000Z',
      { organisationId: org, reason: 'demande RGPD' },
      `erase-${org}`,
    );
  };

describe('EraseMember', () => {
  it("records a natural person's erasure, in transaction time, with nothing personal in it", () =>
    spec
      .given(registered, joined('citoyen', '2020-02-01', 'natural_person'))
      .when(erase('citoyen'))
      .thenEmits([recordedNow('PersonalDataErased', { organisationId: 'citoyen', reason: 'demande RGPD' })]));
  it('erases a person who has left the PTCE too: their name is still in the log', () =>
    spec
      .given(registered, joined('citoyen', '2020-02-01', 'natural_person'), left('citoyen', '2021-01-01'))
      .when(erase('citoyen'))
      .thenEmits([recordedNow('PersonalDataErased', { organisationId: 'citoyen', reason: 'demande RGPD' })]));
  it('refuses an organisation: only a natural person has personal data to erase', () =>
    spec
      .given(registered, joined('b', '2020-02-01'))
      .when(erase('b'))
      .thenThrows('not_a_natural_person', 422, { organisationId: 'b', category: 'enterprise' }));
  it('refuses an organisation that never joined', () =>
    spec.given(registered).when(erase('x')).thenThrows('member_not_found', 404));
  it('refuses a second erasure', () =>
    spec
      .given(registered, joined('citoyen', '2020-02-01', 'natural_person'), erased('citoyen'))
      .when(erase('citoyen'))
      .thenThrows('already_erased', 409));
});

describe('after an erasure', () => {
  const history = [
    registered,
    joined('citoyen', '2020-02-01', 'natural_person'),
    left('citoyen', '2021-01-01'),
    erased('citoyen'),
  ];
  it('the person cannot return under the same id', () =>
    spec
      .given(...history)
      .when({
        type: 'JoinMember',
        organisationId: 'citoyen',
        name: 'C',
        category: 'natural_person',
        occurredAt: '2022-01-01',
      })
      .thenThrows('member_erased', 409));
  it('no name can be recorded for them', () =>
    spec
      .given(...history)
      .when({ type: 'CorrectMembership', organisationId: 'citoyen', fields: { name: 'C' }, reason: 'r' })
      .thenThrows('member_erased', 409));
  it('the erasure cannot be retracted', () => {
    const g = spec.given(...history);
    g.when({ type: 'RetractEvent', eventId: 'erase-citoyen', reason: 'erreur' }).thenThrows(
      'cannot_retract_erasure',
      422,
    );
  });
});

describe('CorrectMembership into natural_person', () => {
  it('is refused for a member recorded as an organisation: its name went to the log in clear', () =>
    spec
      .given(registered, joined('b', '2020-02-01'))
      .when({
        type: 'CorrectMembership',
        organisationId: 'b',
        fields: { category: 'natural_person' },
        reason: 'r',
      })
      .thenThrows('personal_data_in_clear', 422, { organisationId: 'b' }));
  it('is allowed for a natural person whose other fields are corrected', () =>
    spec
      .given(registered, joined('citoyen', '2020-02-01', 'natural_person'))
      .when({
        type: 'CorrectMembership',
        organisationId: 'citoyen',
        fields: { category: 'natural_person', legalStatus: 'private' },
        reason: 'r',
      })
      .thenEmits([
        recordedNow('MembershipCorrected', {
          correctsEventId: 'join-citoyen-2020-02-01',
          organisationId: 'citoyen',
          fields: { category: 'natural_person', legalStatus: 'private' },
          reason: 'r',
        }),
      ]));
});

describe('recordedCategoryOf / isErased', () => {
  it('read the category of the latest join, the pilot included, and the erasures in the log', () => {
    const log = new LogBuilder('p');
    for (const h of [registered, joined('citoyen', '2020-02-01', 'natural_person'), erased('citoyen')])
      h(log);
    const ledger = foldLedger(log.events);
    expect(recordedCategoryOf(ledger, 'a')).toBe('ess_enterprise');
    expect(recordedCategoryOf(ledger, 'citoyen')).toBe('natural_person');
    expect(recordedCategoryOf(ledger, 'nobody')).toBeUndefined();
    expect(isErased(ledger, 'citoyen')).toBe(true);
    expect(isErased(ledger, 'a')).toBe(false);
  });
});
