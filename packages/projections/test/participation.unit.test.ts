import { wasEnrolledAt } from '@ptce/domain';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ledgerAt, participationAt, participationOf } from '../src/index.ts';
import { GovernanceHistory } from './governance-history.ts';

/**
 * Six members on 2020-01-01: two ESS enterprises (the pilot, ess2), two enterprises (ent, ent2),
 * a local authority (city), a research body (lab) — category shares 1/3, 1/3, 1/6, 1/6.
 * Seats at t: pilot in copil and ca, city in copil, ent2 in copil (from 2020-06-02); ent and ess2
 * in the working group wg.
 */
function history(): GovernanceHistory {
  const h = new GovernanceHistory();
  h.register('2020-01-01');
  h.join('ess2', 'ess_enterprise', '2020-01-01');
  h.join('ent', 'enterprise', '2020-01-01');
  h.join('ent2', 'enterprise', '2020-01-01');
  h.join('city', 'local_authority', '2020-01-01');
  h.join('lab', 'research_higher_education', '2020-01-01');
  h.openSpace('copil', 'strategic', '2020-01-02');
  h.openSpace('ca', 'governance', '2020-01-02');
  h.openSpace('wg', 'operational', '2020-01-02');
  h.enrol('copil', 'pilot', '2020-01-02');
  h.enrol('ca', 'pilot', '2020-01-02');
  h.enrol('copil', 'city', '2020-01-02');
  h.enrol('wg', 'ent', '2020-01-02');
  h.enrol('wg', 'ess2', '2020-01-02');
  // Before the window (t = 2021-01-15, 12 months: from 2020-01-15).
  h.meeting('copil', 'm1', ['pilot'], '2020-01-10');
  // On the window's first day: included.
  h.meeting('copil', 'm2', ['pilot', 'city'], '2020-01-15');
  h.meeting('copil', 'm3', ['pilot'], '2020-06-01');
  h.decide('d1', 'copil', '2020-06-01', { meetingId: 'm3', present: ['pilot'] });
  h.enrol('copil', 'ent2', '2020-06-02');
  h.meeting('ca', 'm4', ['pilot'], '2020-07-01');
  h.decide('d2', 'ca', '2020-07-01', { meetingId: 'm4', present: ['pilot'] });
  h.decide('d3', 'ca', '2020-07-01', { meetingId: 'm4', present: ['pilot'] });
  h.meeting('copil', 'm6', ['pilot'], '2020-10-01');
  // On t itself: included.
  h.meeting('wg', 'm5', ['ent'], '2021-01-15');
  // After t: not in the state at t.
  h.meeting('copil', 'm7', ['pilot', 'city', 'ent2'], '2021-01-16');
  h.launch('a1', ['pilot', 'ent'], '2020-02-01');
  h.launch('a2', ['lab'], '2020-02-01');
  h.launch('a3', ['pilot', 'city'], '2020-02-01');
  h.endActivity('a3', '2020-12-01');
  h.launch('a4', ['city'], '2020-02-01');
  h.addCarrier('a4', 'ent2', '2020-03-01');
  return h;
}

const T = '2021-01-15';

describe('participationAt', () => {
  const answer = participationAt(history().ledger(), T);

  it('the worked check: members in shares 1/3, 1/3, 1/6, 1/6 have a Blau index of 0.7222…', () => {
    expect(answer.blau.membership).toBeCloseTo(1 - (1 / 9 + 1 / 9 + 1 / 36 + 1 / 36), 12);
    expect(answer.blau.membership).toBeCloseTo(0.7222222222, 9);
  });

  it('seats: coverage and the steering Blau index (seats 2/4 ESS, 1/4 enterprise, 1/4 local authority)', () => {
    expect(answer.steeringCoverage).toBe(3 / 6);
    expect(answer.categoryCoverage).toBe(3 / 4);
    expect(answer.blau.steering).toBeCloseTo(1 - (1 / 4 + 1 / 16 + 1 / 16), 12);
    expect(answer.window).toEqual({ from: '2020-01-15', to: T, months: 12 });
  });

  it.each([
    // category, members, memberShare, seats, seatShare, representationRatio, attendanceRate
    ['ess_enterprise', 2, 2 / 6, 2, 2 / 4, 2 / 4 / (2 / 6), 4 / 5],
    ['enterprise', 2, 2 / 6, 1, 1 / 4, 1 / 4 / (2 / 6), 1 / 2],
    ['local_authority', 1, 1 / 6, 1, 1 / 4, 1 / 4 / (1 / 6), 1 / 3],
    ['research_higher_education', 1, 1 / 6, 0, 0, 0, null],
    ['training_body', 0, 0, 0, 0, null, null],
    ['natural_person', 0, 0, 0, 0, null, null],
  ] as const)('by category: %s', (category, members, memberShare, seats, seatShare, ratio, rate) => {
    const c = answer.byCategory[category];
    expect(c.members).toBe(members);
    expect(c.memberShare).toBe(memberShare);
    expect(c.steeringSeats).toBe(seats);
    expect(c.seatShare).toBe(seatShare);
    if (ratio === null) expect(c.representationRatio).toBeNull();
    else expect(c.representationRatio).toBeCloseTo(ratio, 12);
    expect(c.attendanceRate).toBe(rate);
  });

  it('a category’s rate pools its members’ meetings: 4 of 5, not the mean of 1 and 0', () => {
    expect(answer.byCategory.ess_enterprise.attendanceRate).toBe(0.8);
  });

  it.each([
    // id, spaces [operational, strategic, governance], seats, rate, decisions, co-carried
    ['city', [0, 1, 0], 1, 1 / 3, 0, 1],
    ['ent', [1, 0, 0], 0, 1, 0, 1],
    ['ent2', [0, 1, 0], 1, 0, 0, 1],
    ['ess2', [1, 0, 0], 0, 0, 0, 0],
    ['lab', [0, 0, 0], 0, null, 0, 0],
    ['pilot', [0, 1, 1], 2, 1, 3, 1],
  ] as const)(
    'by member: %s',
    (id, [operational, strategic, governance], seats, rate, decisions, carried) => {
      const m = answer.byMember.find((x) => x.organisationId === id);
      expect(m).toMatchObject({
        spaces: { operational, strategic, governance },
        steeringSeats: seats,
        attendanceRate: rate,
        decisionsAttended: decisions,
        activitiesCoCarried: carried,
      });
    },
  );

  it('lists the active members by id', () => {
    expect(answer.byMember.map((m) => m.organisationId)).toEqual([
      'city',
      'ent',
      'ent2',
      'ess2',
      'lab',
      'pilot',
    ]);
  });

  it.each([
    // months, window start, the pilot's expected meetings and rate
    [1, '2020-12-15', 0, null],
    [6, '2020-07-15', 1, 1],
    [12, '2020-01-15', 4, 1],
    [13, '2019-12-15', 5, 1],
  ] as const)('a window of %i month(s) starts on %s', (windowMonths, from, held, rate) => {
    const a = participationAt(history().ledger(), T, { windowMonths });
    expect(a.window.from).toBe(from);
    const pilot = a.byMember.find((m) => m.organisationId === 'pilot');
    expect(pilot?.meetingsHeld).toBe(held);
    expect(pilot?.attendanceRate).toBe(rate);
  });

  it.each([0, 121, 1.5, -1, Number.NaN])('refuses a window of %s months', (windowMonths) => {
    expect(() => participationAt(history().ledger(), T, { windowMonths })).toThrow(RangeError);
  });

  it('a window ending on the 31st starts on the clamped last day of a shorter month', () => {
    const h = new GovernanceHistory();
    h.register('2021-01-01');
    h.openSpace('copil', 'strategic', '2021-01-01');
    h.enrol('copil', 'pilot', '2021-01-01');
    h.meeting('copil', 'before', ['pilot'], '2021-02-27');
    h.meeting('copil', 'first-day', ['pilot'], '2021-02-28');
    h.meeting('copil', 'missed', ['pilot'], '2021-03-10');
    const a = participationAt(h.ledger(), '2021-03-31', { windowMonths: 1 });
    expect(a.window.from).toBe('2021-02-28');
    expect(a.byMember[0]?.meetingsHeld).toBe(2);
  });

  it('a member is expected only at meetings held while it was enrolled, even in a space closed since', () => {
    const h = new GovernanceHistory();
    h.register('2021-01-01');
    h.join('a', 'enterprise', '2021-01-01');
    h.openSpace('old', 'strategic', '2021-01-01');
    h.enrol('old', 'a', '2021-01-01');
    h.meeting('old', 'o1', ['a'], '2021-02-01');
    h.withdraw('old', 'a', '2021-03-01');
    // On the withdrawal's day or after it, `a` is not expected.
    h.meeting('old', 'o2', ['pilot'], '2021-03-01');
    h.closeSpace('old', '2021-04-01');
    const a = participationAt(h.ledger(), '2021-06-01');
    const m = a.byMember.find((x) => x.organisationId === 'a');
    expect(m).toMatchObject({ meetingsHeld: 1, meetingsAttended: 1, attendanceRate: 1, steeringSeats: 0 });
    expect(a.steeringCoverage).toBe(0);
    expect(a.blau.steering).toBeNull();
    expect(a.byCategory.enterprise.representationRatio).toBeNull();
  });

  it('a PTCE not registered at t: zero counts and null rates', () => {
    const a = participationAt(history().ledger(), '2019-12-31');
    expect(a.byMember).toEqual([]);
    expect(a.steeringCoverage).toBeNull();
    expect(a.categoryCoverage).toBeNull();
    expect(a.blau).toEqual({ membership: null, steering: null });
    for (const c of Object.values(a.byCategory)) {
      expect(c).toEqual({
        members: 0,
        memberShare: null,
        steeringSeats: 0,
        seatShare: null,
        representationRatio: null,
        attendanceRate: null,
      });
    }
  });

  it('is the same answer from the replayed state', () => {
    const ledger = history().ledger();
    expect(participationOf(ledgerAt(ledger, T), T)).toEqual(participationAt(ledger, T));
  });
});

describe('participation: attendance against its definition, on random histories', () => {
  const orgs = ['a', 'b', 'c', 'd'] as const;
  const spaces = ['s1', 's2'] as const;
  const days = ['2020-01-05', '2020-02-10', '2020-03-15', '2020-03-15T09:00:00Z', '2020-04-20', '2020-05-25'];
  const day = fc.constantFrom(...days);
  const step = fc.oneof(
    fc.record({ kind: fc.constant('join' as const), org: fc.constantFrom(...orgs), at: day }),
    fc.record({ kind: fc.constant('leave' as const), org: fc.constantFrom(...orgs), at: day }),
    fc.record({
      kind: fc.constant('enrol' as const),
      org: fc.constantFrom(...orgs),
      space: fc.constantFrom(...spaces),
      at: day,
    }),
    fc.record({
      kind: fc.constant('withdraw' as const),
      org: fc.constantFrom(...orgs),
      space: fc.constantFrom(...spaces),
      at: day,
    }),
    fc.record({
      kind: fc.constant('meeting' as const),
      space: fc.constantFrom(...spaces),
      attendees: fc.subarray([...orgs], { minLength: 1 }),
      decisions: fc.nat(2),
      at: day,
    }),
  );

  it('each member: meetings held in its spaces while it sat there, those attended, the decisions of meetings attended', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 30 }), (steps) => {
        const h = new GovernanceHistory();
        h.register('2020-01-01');
        for (const space of spaces) h.openSpace(space, 'operational', '2020-01-01');
        let meetings = 0;
        for (const s of steps) {
          if (s.kind === 'join') h.join(s.org, 'enterprise', s.at);
          else if (s.kind === 'leave') h.leave(s.org, s.at);
          else if (s.kind === 'enrol') h.enrol(s.space, s.org, s.at);
          else if (s.kind === 'withdraw') h.withdraw(s.space, s.org, s.at);
          else {
            const meetingId = `m${++meetings}`;
            h.meeting(s.space, meetingId, s.attendees, s.at);
            for (let d = 0; d < s.decisions; d++) {
              h.decide(`${meetingId}-d${d}`, s.space, s.at, { meetingId, present: s.attendees });
            }
          }
        }
        const ledger = h.ledger();
        const t = '2020-06-30';
        const state = ledgerAt(ledger, t);
        const answer = participationOf(state, t, { windowMonths: 12 });
        // The definition, member by member over every meeting of the window.
        const inWindow = [...state.meetings.values()];
        for (const member of answer.byMember) {
          let held = 0;
          let attended = 0;
          let decisions = 0;
          for (const meeting of inWindow) {
            const present = meeting.attendees.includes(member.organisationId);
            if (present) {
              decisions += [...state.decisions.values()].filter(
                (d) => d.meetingId === meeting.meetingId,
              ).length;
            }
            if (!wasEnrolledAt(state, meeting.spaceId, member.organisationId, meeting.heldAt)) continue;
            held += 1;
            if (present) attended += 1;
          }
          expect(member).toMatchObject({
            meetingsHeld: held,
            meetingsAttended: attended,
            decisionsAttended: decisions,
          });
        }
      }),
      { numRuns: 300 },
    );
  });
});
