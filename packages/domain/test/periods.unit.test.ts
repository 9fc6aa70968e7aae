import { describe, expect, it } from 'vitest';
import {
  decideMembership,
  decideWorkingGroups,
  enrolmentPeriodsOf,
  foldLedger,
  type Ledger,
  ledgerFinal,
  replayLedger,
  wasEnrolledAt,
} from '../src/index.ts';
import { deciderSpec, enrolled, joined, left, met, opened, registered } from './decider-spec.ts';
import { LogBuilder } from './fixtures.ts';

function ledgerOf(...history: ((log: LogBuilder) => void)[]): Ledger {
  const log = new LogBuilder('p');
  for (const h of history) h(log);
  return foldLedger(log.events);
}

const asOf = (ledger: Ledger, at: string) => replayLedger(ledger, { kind: 'asOf', at });
const codes = (ledger: Ledger) => ledgerFinal(ledger).warnings.map((w) => `${w.eventId} ${w.code}`);

const withdrawn = (spaceId: string, org: string, at: string, eventId?: string) => (log: LogBuilder) => {
  log.add('MemberWithdrawnFromSpace', at, { spaceId, organisationId: org }, eventId);
};

describe('enrolment periods', () => {
  it('given an enrolment ended by a withdrawal and a second one, then both periods are kept and dated', () => {
    const ledger = ledgerOf(
      registered,
      joined('b', '2020-02-01'),
      opened('s', '2020-02-01'),
      (l) =>
        l.add(
          'MemberEnrolled',
          '2020-03-01',
          { spaceId: 's', organisationId: 'b', role: 'chair' },
          'enrol-1',
        ),
      withdrawn('s', 'b', '2020-05-01', 'withdraw-1'),
      (l) =>
        l.add(
          'MemberEnrolled',
          '2020-07-01',
          { spaceId: 's', organisationId: 'b', role: 'member' },
          'enrol-2',
        ),
    );
    const final = ledgerFinal(ledger);
    expect(enrolmentPeriodsOf(final, 'b')).toEqual(
      new Map([
        [
          's',
          [
            {
              role: 'chair',
              enrolledAt: '2020-03-01',
              eventId: 'enrol-1',
              endedAt: '2020-05-01',
              endEventId: 'withdraw-1',
              endedBy: 'withdrawal',
            },
            { role: 'member', enrolledAt: '2020-07-01', eventId: 'enrol-2' },
          ],
        ],
      ]),
    );
    expect(final.spaces.get('s')?.enrolled.has('b')).toBe(true);
    // Asked of the one final state, for any date.
    expect(wasEnrolledAt(final, 's', 'b', '2020-02-28')).toBe(false);
    expect(wasEnrolledAt(final, 's', 'b', '2020-03-01')).toBe(true);
    expect(wasEnrolledAt(final, 's', 'b', '2020-04-30T21:59:59.000Z')).toBe(true);
    // Withdrawn on 2020-05-01: no longer enrolled as of that day.
    expect(wasEnrolledAt(final, 's', 'b', '2020-05-01')).toBe(false);
    expect(wasEnrolledAt(final, 's', 'b', '2020-06-15')).toBe(false);
    expect(wasEnrolledAt(final, 's', 'b', '2021-01-01')).toBe(true);
    expect(wasEnrolledAt(final, 's', 'z', '2021-01-01')).toBe(false);
    expect(wasEnrolledAt(final, 'nowhere', 'b', '2021-01-01')).toBe(false);
    // A state replayed to a date knows the periods begun by then, the one open then still open.
    const mid = asOf(ledger, '2020-04-01');
    expect(mid.spaces.get('s')?.periods.get('b')).toEqual([
      { role: 'chair', enrolledAt: '2020-03-01', eventId: 'enrol-1' },
    ]);
  });

  it('lists each space the member sat in, and nothing for a member never enrolled', () => {
    const ledger = ledgerOf(
      registered,
      joined('b', '2020-02-01'),
      opened('t', '2020-02-01'),
      opened('s', '2020-02-01'),
      enrolled('t', 'b', '2020-03-01'),
      enrolled('s', 'b', '2020-03-02'),
    );
    const periods = enrolmentPeriodsOf(ledgerFinal(ledger), 'b');
    expect([...periods.keys()]).toEqual(['s', 't']);
    expect(enrolmentPeriodsOf(ledgerFinal(ledger), 'a').size).toBe(0);
  });

  it('a withdrawal of a member not enrolled is still skipped and changes no period', () => {
    const ledger = ledgerOf(
      registered,
      joined('b', '2020-02-01'),
      opened('s', '2020-02-01'),
      withdrawn('s', 'b', '2020-03-01', 'w'),
    );
    expect(codes(ledger)).toEqual(['w not_enrolled']);
    expect(enrolmentPeriodsOf(ledgerFinal(ledger), 'b').size).toBe(0);
  });
});

describe('leaving the PTCE', () => {
  const seatedEverywhere = [
    registered,
    joined('b', '2020-02-01'),
    opened('s', '2020-02-01'),
    enrolled('s', 'b', '2020-03-01'),
    (l: LogBuilder) => l.add('LegalEntityRegistered', '2020-02-01', { name: 'SCIC', legalForm: 'scic' }),
    (l: LogBuilder) => l.add('AssociateAdmitted', '2020-03-01', { organisationId: 'b' }),
    (l: LogBuilder) =>
      l.add('ActivityLaunched', '2020-03-01', { activityId: 'act', name: 'Act', carriers: ['a', 'b'] }),
  ];

  it('given b enrolled, associate and carrier, when b leaves, then all three end at the departure and nothing is flagged', () => {
    const ledger = ledgerOf(...seatedEverywhere, (l) =>
      l.add('MemberLeft', '2020-06-01', { organisationId: 'b' }, 'leave-b'),
    );
    expect(codes(ledger)).toEqual([]);
    const before = asOf(ledger, '2020-05-31');
    expect(before.spaces.get('s')?.enrolled.has('b')).toBe(true);
    expect(before.associates.has('b')).toBe(true);
    expect(before.activities.get('act')?.carriers.has('b')).toBe(true);
    const after = asOf(ledger, '2020-06-01');
    expect(after.members.has('b')).toBe(false);
    expect(after.spaces.get('s')?.enrolled.has('b')).toBe(false);
    expect(after.associates.has('b')).toBe(false);
    expect([...(after.activities.get('act')?.carriers.keys() ?? [])]).toEqual(['a']);
    expect(after.spaces.get('s')?.periods.get('b')).toEqual([
      {
        role: 'member',
        enrolledAt: '2020-03-01',
        eventId: 'e4',
        endedAt: '2020-06-01',
        endEventId: 'leave-b',
        endedBy: 'departure',
      },
    ]);
    expect(wasEnrolledAt(ledgerFinal(ledger), 's', 'b', '2020-05-31')).toBe(true);
    expect(wasEnrolledAt(ledgerFinal(ledger), 's', 'b', '2020-06-01')).toBe(false);
  });

  it('given b left and rejoined, then none of its seats, associate status or carrying comes back', () => {
    const ledger = ledgerOf(...seatedEverywhere, left('b', '2020-06-01'), joined('b', '2020-09-01'));
    const back = asOf(ledger, '2020-10-01');
    expect(back.members.has('b')).toBe(true);
    expect(back.spaces.get('s')?.enrolled.has('b')).toBe(false);
    expect(back.associates.has('b')).toBe(false);
    expect(back.activities.get('act')?.carriers.has('b')).toBe(false);
    expect(wasEnrolledAt(ledgerFinal(ledger), 's', 'b', '2020-10-01')).toBe(false);
  });

  it('given b left, then a meeting it attended afterwards and its associate withdrawal are contradictions', () => {
    const ledger = ledgerOf(
      ...seatedEverywhere,
      left('b', '2020-06-01'),
      met('s', 'm', ['b'], '2020-07-01'),
      (l) => l.add('AssociateWithdrew', '2020-08-01', { organisationId: 'b' }, 'withdrew-b'),
    );
    expect(codes(ledger)).toEqual(['meet-m attendees_not_enrolled', 'withdrew-b not_an_associate']);
  });

  it('an ended activity keeps the carriers it ended with', () => {
    const ledger = ledgerOf(
      ...seatedEverywhere,
      (l) => l.add('ActivityEnded', '2020-05-01', { activityId: 'act' }),
      left('b', '2020-06-01'),
    );
    expect([...(ledgerFinal(ledger).activities.get('act')?.carriers.keys() ?? [])]).toEqual(['a', 'b']);
  });
});

describe('LeaveMember while enrolled, associate and carrier', () => {
  const spec = deciderSpec(decideMembership);
  it('given b enrolled, associate and carrier, when b leaves, then the departure is accepted', () =>
    spec
      .given(
        registered,
        joined('b', '2020-02-01'),
        opened('s', '2020-02-01'),
        enrolled('s', 'b', '2020-03-01'),
        (l) => l.add('LegalEntityRegistered', '2020-02-01', { name: 'SCIC', legalForm: 'scic' }),
        (l) => l.add('AssociateAdmitted', '2020-03-01', { organisationId: 'b' }),
        (l) => l.add('ActivityLaunched', '2020-03-01', { activityId: 'act', name: 'Act', carriers: ['b'] }),
      )
      .when({ type: 'LeaveMember', organisationId: 'b', occurredAt: '2020-06-01' })
      .thenEmits([{ type: 'MemberLeft', data: { organisationId: 'b' }, occurredAt: '2020-06-01' }]));
  it('given b attended a meeting after the departure date, when b leaves, then 422 naming the meeting', () => {
    const err = spec
      .given(
        registered,
        joined('b', '2020-02-01'),
        opened('s', '2020-02-01'),
        enrolled('s', 'b', '2020-03-01'),
        met('s', 'm', ['b'], '2020-07-01'),
      )
      .when({ type: 'LeaveMember', organisationId: 'b', occurredAt: '2020-06-01' })
      .thenThrows('contradicts_history', 422);
    const conflicts = (err.details?.conflicts ?? []) as { eventId: string; code: string }[];
    expect(conflicts.map((c) => `${c.eventId} ${c.code}`)).toEqual(['meet-m attendees_not_enrolled']);
  });
  it('given b withdrew as associate after the departure date, when b leaves, then 422', () =>
    spec
      .given(
        registered,
        joined('b', '2020-02-01'),
        (l) => l.add('LegalEntityRegistered', '2020-02-01', { name: 'SCIC', legalForm: 'scic' }),
        (l) => l.add('AssociateAdmitted', '2020-03-01', { organisationId: 'b' }),
        (l) => l.add('AssociateWithdrew', '2020-08-01', { organisationId: 'b' }),
      )
      .when({ type: 'LeaveMember', organisationId: 'b', occurredAt: '2020-06-01' })
      .thenThrows('contradicts_history', 422));
});

describe('after a departure and a return', () => {
  const history = [
    registered,
    joined('b', '2020-02-01'),
    opened('s', '2020-02-01'),
    enrolled('s', 'b', '2020-03-01'),
    (l: LogBuilder) => l.add('LegalEntityRegistered', '2020-02-01', { name: 'SCIC', legalForm: 'scic' }),
    (l: LogBuilder) => l.add('AssociateAdmitted', '2020-03-01', { organisationId: 'b' }),
    (l: LogBuilder) =>
      l.add('ActivityLaunched', '2020-03-01', { activityId: 'act', name: 'Act', carriers: ['a', 'b'] }),
    left('b', '2020-06-01'),
    joined('b', '2020-09-01'),
  ];
  it('given b left and rejoined, when b is enrolled again, then the enrolment is accepted', () =>
    deciderSpec(decideWorkingGroups)
      .given(...history)
      .when({ type: 'EnrolMember', spaceId: 's', organisationId: 'b', occurredAt: '2020-10-01' })
      .thenEmits([
        {
          type: 'MemberEnrolled',
          data: { spaceId: 's', organisationId: 'b', role: 'member' },
          occurredAt: '2020-10-01',
        },
      ]));
  it('given b left and rejoined, when b is admitted as associate again, then the admission is accepted', () =>
    deciderSpec(decideMembership)
      .given(...history)
      .when({ type: 'AdmitAssociate', organisationId: 'b', occurredAt: '2020-10-01' })
      .thenEmits([{ type: 'AssociateAdmitted', data: { organisationId: 'b' }, occurredAt: '2020-10-01' }]));
  it('given b left and rejoined, when b carries the activity again, then it is accepted', () =>
    deciderSpec(decideWorkingGroups)
      .given(...history)
      .when({ type: 'JoinActivityCarrier', activityId: 'act', organisationId: 'b', occurredAt: '2020-10-01' })
      .thenEmits([
        { type: 'CarrierJoined', data: { activityId: 'act', organisationId: 'b' }, occurredAt: '2020-10-01' },
      ]));
  it('given b left, when b is withdrawn from the space after its departure, then 409 not_enrolled', () =>
    deciderSpec(decideWorkingGroups)
      .given(...history)
      .when({ type: 'WithdrawFromSpace', spaceId: 's', organisationId: 'b', occurredAt: '2020-07-01' })
      .thenThrows('not_enrolled', 409));
  it('given b left, when b withdraws as associate after its departure, then 409 not_an_associate', () =>
    deciderSpec(decideMembership)
      .given(...history)
      .when({ type: 'WithdrawAssociate', organisationId: 'b', occurredAt: '2020-07-01' })
      .thenThrows('not_an_associate', 409));
});
