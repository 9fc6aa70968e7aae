import { compileLedger, evolveLedger, foldLedger, initialLedger } from '@ptce/domain';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The domain's own log builder: projections read the ledgers the domain folds.
import { LogBuilder } from '../../domain/test/fixtures.ts';
import {
  activeMembers,
  activitiesAt,
  associatesAt,
  decisions,
  enrolledMembers,
  facts,
  isActiveMember,
  isRegistered,
  legalEntityAt,
  meetings,
  openSpaces,
  pilotAt,
  recognitions,
  registeredAt,
  spaceRulesAt,
  warnings,
} from '../src/index.ts';

const ids = (xs: readonly { organisationId: string }[]) => xs.map((x) => x.organisationId).sort();
const tally = (f: number, a: number, ab: number) => ({ for: f, against: a, abstain: ab });

/** The val-coop scenario's history, as the write services would have stored it. */
function valCoop() {
  const log = new LogBuilder();
  const space = (spaceId: string, kind: string, at: string, majority = 'simple') =>
    log.add('SpaceOpened', at, { spaceId, kind, name: spaceId, rules: { quorum: 0.5, majority } });
  const enrol = (spaceId: string, org: string, at: string) =>
    log.add('MemberEnrolled', at, { spaceId, organisationId: org, role: 'member' });
  const join = (org: string, category: string, at: string) =>
    log.add('MemberJoined', at, { organisationId: org, name: org, category });
  const meeting = (spaceId: string, meetingId: string, attendees: string[], at: string) =>
    log.add('MeetingHeld', at, { spaceId, meetingId, attendees });
  const decision = (
    decisionId: string,
    meetingId: string,
    present: string[],
    vote: object,
    outcome: string,
    at: string,
    enrolledCount: number,
    majority = 'two_thirds',
  ) =>
    log.add('DecisionRecorded', at, {
      decisionId,
      spaceId: meetingId.startsWith('copil') ? 'copil' : 'conseil',
      meetingId,
      present,
      title: decisionId,
      kind: 'general',
      vote,
      rules: { quorum: 0.5, majority },
      enrolledCount,
      outcome,
    });

  log.add('PtceRegistered', '2017-03-01', {
    name: 'Val de Sèvre Coopérations',
    territory: { name: 'Pays du Val', department: '79', rural: true },
    pilot: { organisationId: 'asso-mobilite', name: 'Mobilité Solidaire du Val', category: 'ess_enterprise' },
  });
  join('cc-val', 'local_authority', '2017-06-15');
  space('gt-mobilite', 'operational', '2017-09-01');
  enrol('gt-mobilite', 'asso-mobilite', '2017-09-01');
  enrol('gt-mobilite', 'cc-val', '2017-09-01');
  const lycee = join('lycee-agricole', 'training_body', '2018-01-01');
  const beforeCorrection = log.events.length;
  log.now('MembershipCorrected', {
    correctsEventId: lycee.eventId,
    organisationId: 'lycee-agricole',
    fields: { joinedAt: '2018-01-10' },
    reason: 'convention',
  });
  join('epicerie-coop', 'ess_enterprise', '2018-01-10');
  join('garage-martin', 'enterprise', '2018-01-10');
  space('copil', 'strategic', '2018-02-01');
  enrol('copil', 'asso-mobilite', '2018-02-01');
  enrol('copil', 'epicerie-coop', '2018-02-01');
  enrol('gt-mobilite', 'garage-martin', '2018-02-15');
  enrol('gt-mobilite', 'lycee-agricole', '2018-02-15');
  space('gt-alimentation', 'operational', '2018-02-15');
  for (const o of ['epicerie-coop', 'asso-mobilite', 'lycee-agricole'])
    enrol('gt-alimentation', o, '2018-02-15');
  meeting('copil', 'copil-2018-03-01', ['asso-mobilite', 'epicerie-coop'], '2018-03-01');
  decision(
    'priorites-territoriales',
    'copil-2018-03-01',
    ['asso-mobilite', 'epicerie-coop'],
    tally(2, 0, 0),
    'adopted',
    '2018-03-01',
    2,
    'simple',
  );
  log.add('ActivityLaunched', '2018-06-01', {
    activityId: 'garage-solidaire',
    name: 'Garage solidaire',
    carriers: ['asso-mobilite', 'garage-martin'],
    spaceId: 'gt-mobilite',
  });
  log.add('ActivityLaunched', '2019-01-20', {
    activityId: 'cjs',
    name: 'CJS',
    carriers: ['lycee-agricole', 'cc-val', 'asso-mobilite'],
  });
  space('conseil', 'governance', '2019-03-01', 'two_thirds');
  for (const o of ['asso-mobilite', 'cc-val', 'epicerie-coop', 'garage-martin', 'lycee-agricole'])
    enrol('conseil', o, '2019-03-01');
  join('boulangerie-dupont', 'enterprise', '2019-09-01');
  enrol('conseil', 'boulangerie-dupont', '2019-10-01');
  const all6 = [
    'asso-mobilite',
    'cc-val',
    'epicerie-coop',
    'garage-martin',
    'lycee-agricole',
    'boulangerie-dupont',
  ];
  meeting('conseil', 'conseil-2020-06-01', ['asso-mobilite', 'cc-val'], '2020-06-01');
  decision(
    'budget-2020',
    'conseil-2020-06-01',
    ['asso-mobilite', 'cc-val'],
    tally(2, 0, 0),
    'no_quorum',
    '2020-06-01',
    6,
  );
  meeting('conseil', 'conseil-2020-11-15', all6, '2020-11-15');
  decision('statuts-scic', 'conseil-2020-11-15', all6, tally(5, 1, 0), 'adopted', '2020-11-15', 6);
  decision('extension', 'conseil-2020-11-15', all6, tally(2, 3, 1), 'rejected', '2020-11-15', 6);
  log.add('LegalEntityRegistered', '2021-01-05', {
    name: 'SCIC Val Coopérations',
    legalForm: 'scic',
    registrationId: '000000000',
  });
  for (const o of ['asso-mobilite', 'epicerie-coop', 'cc-val'])
    log.add('AssociateAdmitted', '2021-01-05', { organisationId: o, college: 'c' });
  for (const o of ['garage-martin', 'lycee-agricole'])
    log.add('AssociateAdmitted', '2021-03-01', { organisationId: o });
  return { log, full: foldLedger(log.events), known: foldLedger(log.events.slice(0, beforeCorrection)) };
}

describe('ledger fold: val-coop', () => {
  const { full, known } = valCoop();

  it.each([
    ['2016-12-31', []],
    ['2017-03-01', ['asso-mobilite']],
    ['2017-12-31', ['asso-mobilite', 'cc-val']],
    ['2018-01-05', ['asso-mobilite', 'cc-val']],
    ['2018-01-10', ['asso-mobilite', 'cc-val', 'epicerie-coop', 'garage-martin', 'lycee-agricole']],
    [
      '2019-09-01',
      ['asso-mobilite', 'boulangerie-dupont', 'cc-val', 'epicerie-coop', 'garage-martin', 'lycee-agricole'],
    ],
  ])('active members as of %s', (t, expected) => {
    expect(ids(activeMembers(full, t))).toEqual(expected);
  });

  it('shows the lycée from 2018-01-01 as known before the correction, from 2018-01-10 after', () => {
    expect(isActiveMember(known, 'lycee-agricole', '2018-01-05')).toBe(true);
    expect(isActiveMember(full, 'lycee-agricole', '2018-01-05')).toBe(false);
    expect(
      activeMembers(full, '2018-01-10').find((m) => m.organisationId === 'lycee-agricole')?.joinedAt,
    ).toBe('2018-01-10');
    expect(
      activeMembers(known, '2018-01-10').find((m) => m.organisationId === 'lycee-agricole')?.joinedAt,
    ).toBe('2018-01-01');
  });

  it('registration, pilot, spaces and enrolments', () => {
    expect(isRegistered(full, '2016-12-31')).toBe(false);
    expect(isRegistered(full, '2017-03-01')).toBe(true);
    expect(registeredAt(full)).toBe('2017-03-01');
    expect(pilotAt(full, '2018-01-01')).toBe('asso-mobilite');
    expect(activeMembers(full, '2017-03-01')[0]?.isPilot).toBe(true);
    expect(openSpaces(full, '2018-02-15').map((s) => [s.spaceId, s.kind])).toEqual([
      ['copil', 'strategic'],
      ['gt-alimentation', 'operational'],
      ['gt-mobilite', 'operational'],
    ]);
    expect(spaceRulesAt(full, 'conseil', '2019-03-01')).toEqual({ quorum: 0.5, majority: 'two_thirds' });
    expect(spaceRulesAt(full, 'conseil', '2019-02-28')).toBeNull();
    expect(ids(enrolledMembers(full, 'copil', '2018-02-15'))).toEqual(['asso-mobilite', 'epicerie-coop']);
    expect(enrolledMembers(full, 'conseil', '2019-09-30')).toHaveLength(5);
    expect(enrolledMembers(full, 'conseil', '2019-10-01')).toHaveLength(6);
  });

  it('activities, decisions, legal entity and associates', () => {
    expect(activitiesAt(full, '2019-01-20').map((a) => [a.activityId, a.carriers])).toEqual([
      ['cjs', ['asso-mobilite', 'cc-val', 'lycee-agricole']],
      ['garage-solidaire', ['asso-mobilite', 'garage-martin']],
    ]);
    expect(decisions(full, '2020-11-15').map((d) => [d.decisionId, d.outcome])).toEqual([
      ['priorites-territoriales', 'adopted'],
      ['budget-2020', 'no_quorum'],
      ['statuts-scic', 'adopted'],
      ['extension', 'rejected'],
    ]);
    expect(legalEntityAt(full, '2021-01-04')).toBeNull();
    expect(legalEntityAt(full, '2021-01-05')?.legalForm).toBe('scic');
    expect(associatesAt(full, '2021-01-05')).toHaveLength(3);
    expect(associatesAt(full, '2021-03-01')).toHaveLength(5);
    expect(activeMembers(full, '2021-01-05').filter((m) => m.isAssociate)).toHaveLength(3);
    expect(warnings(full)).toEqual([]);
  });

  it('meetings, recognitions and the facts in valid-time order', () => {
    expect(meetings(full, '2020-06-01').map((m) => m.meetingId)).toEqual([
      'copil-2018-03-01',
      'conseil-2020-06-01',
    ]);
    expect(recognitions(full, '2021-12-31')).toEqual([]);
    const all = facts(full);
    expect(all).toHaveLength(compileLedger(full).facts.length);
    expect(all.map((f) => f.occurredAt)).toEqual(all.map((f) => f.occurredAt).sort());
    // The corrected join is placed at its corrected date.
    expect(
      all.find((f) => f.type === 'MemberJoined' && f.data.organisationId === 'lycee-agricole'),
    ).toMatchObject({
      occurredAt: '2018-01-10',
    });
  });
});

describe('recognitions', () => {
  it('lists the recognitions granted by a date', () => {
    const log = new LogBuilder('p');
    log.add('PtceRegistered', '2020-01-01', {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
    });
    log.add('RecognitionGranted', '2021-05-01', { programme: 'ptce', grantor: 'État', amountEur: 1000 });
    const l = foldLedger(log.events);
    expect(recognitions(l, '2021-04-30')).toEqual([]);
    expect(recognitions(l, '2021-05-01')).toEqual([
      expect.objectContaining({ programme: 'ptce', grantor: 'État', grantedAt: '2021-05-01' }),
    ]);
  });
});

describe('ledger fold: corrections, retractions and contradictions', () => {
  it('skips an enrolment that a correction made impossible, with a warning naming it', () => {
    const log = new LogBuilder('p');
    log.add('PtceRegistered', '2020-01-01', {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
    });
    const join = log.add('MemberJoined', '2020-02-01', {
      organisationId: 'b',
      name: 'B',
      category: 'ess_enterprise',
    });
    log.add('SpaceOpened', '2020-02-01', {
      spaceId: 's',
      kind: 'strategic',
      name: 'S',
      rules: { quorum: 0.5, majority: 'simple' },
    });
    const enrol = log.add('MemberEnrolled', '2020-02-10', {
      spaceId: 's',
      organisationId: 'b',
      role: 'member',
    });
    const before = foldLedger(log.events);
    expect(ids(enrolledMembers(before, 's', '2020-03-01'))).toEqual(['b']);
    log.now('MembershipCorrected', {
      correctsEventId: join.eventId,
      organisationId: 'b',
      fields: { joinedAt: '2020-03-01' },
      reason: 'r',
    });
    const after = foldLedger(log.events);
    expect(enrolledMembers(after, 's', '2020-03-01')).toEqual([]);
    expect(isActiveMember(after, 'b', '2020-03-01')).toBe(true);
    expect(warnings(after)).toEqual([
      expect.objectContaining({ eventId: enrol.eventId, code: 'not_a_member_at_date' }),
    ]);
    expect(warnings(after, '2020-02-01')).toEqual([]);
  });

  it('a retraction removes the fact; retracting the correction restores the original', () => {
    const log = new LogBuilder('p');
    log.add('PtceRegistered', '2020-01-01', {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
    });
    const join = log.add('MemberJoined', '2020-02-01', {
      organisationId: 'b',
      name: 'B',
      category: 'ess_enterprise',
    });
    const corr = log.now('MembershipCorrected', {
      correctsEventId: join.eventId,
      organisationId: 'b',
      fields: { category: 'enterprise' },
      reason: 'r',
    });
    expect(activeMembers(foldLedger(log.events), '2020-02-01')[1]?.category).toBe('enterprise');
    log.now('EventRetracted', { retractedEventId: corr.eventId, retractedType: corr.type, reason: 'r' });
    expect(activeMembers(foldLedger(log.events), '2020-02-01')[1]?.category).toBe('ess_enterprise');
    log.now('EventRetracted', { retractedEventId: join.eventId, retractedType: join.type, reason: 'r' });
    const l = foldLedger(log.events);
    expect(ids(activeMembers(l, '2020-02-01'))).toEqual(['a']);
    log.now('EventRetracted', { retractedEventId: join.eventId, retractedType: join.type, reason: 'again' });
    log.now('EventRetracted', { retractedEventId: 'nope', retractedType: 'MemberJoined', reason: 'r' });
    expect(warnings(foldLedger(log.events)).map((w) => w.code)).toEqual([
      'already_retracted',
      'retraction_target_unknown',
    ]);
  });

  it('a join while already a member and a fact before registration are skipped and reported', () => {
    const log = new LogBuilder('p');
    log.add('MemberJoined', '2019-01-01', { organisationId: 'z', name: 'Z', category: 'enterprise' });
    log.add('PtceRegistered', '2020-01-01', {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
    });
    log.add('MemberJoined', '2020-03-01', { organisationId: 'b', name: 'B', category: 'enterprise' });
    log.add('MemberJoined', '2020-02-01', { organisationId: 'b', name: 'B', category: 'enterprise' });
    const l = foldLedger(log.events);
    expect(warnings(l).map((w) => [w.eventId, w.code])).toEqual([
      ['e1', 'before_registration'],
      ['e3', 'already_member'],
    ]);
    expect(activeMembers(l, '2020-02-01').find((m) => m.organisationId === 'b')?.joinedAt).toBe('2020-02-01');
  });

  it('a same-day instant and a date: the date is ordered first, an asOf date includes the whole day', () => {
    const log = new LogBuilder('p');
    log.add('PtceRegistered', '2020-01-01', {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
    });
    log.add('MemberJoined', '2020-03-29T23:30:00+02:00', {
      organisationId: 'b',
      name: 'B',
      category: 'enterprise',
    });
    const l = foldLedger(log.events);
    expect(isActiveMember(l, 'b', '2020-03-29')).toBe(true);
    expect(isActiveMember(l, 'b', '2020-03-29T21:29:59Z')).toBe(false);
    expect(isActiveMember(l, 'b', '2020-03-28')).toBe(false);
  });
});

const orgs = ['a', 'b', 'c', 'd'];
const dates = ['2019-12-31', '2020-01-01', '2020-02-01', '2020-03-01', '2020-03-01T10:00:00Z', '2020-04-01'];
const eventArb = fc.oneof(
  fc.record({
    type: fc.constant('MemberJoined'),
    org: fc.constantFrom(...orgs),
    at: fc.constantFrom(...dates),
  }),
  fc.record({
    type: fc.constant('MemberLeft'),
    org: fc.constantFrom(...orgs),
    at: fc.constantFrom(...dates),
  }),
  fc.record({
    type: fc.constant('PilotHandedOver'),
    org: fc.constantFrom(...orgs),
    at: fc.constantFrom(...dates),
  }),
  fc.record({
    type: fc.constant('SpaceOpened'),
    org: fc.constantFrom('s1', 's2'),
    at: fc.constantFrom(...dates),
  }),
  fc.record({
    type: fc.constant('SpaceClosed'),
    org: fc.constantFrom('s1', 's2'),
    at: fc.constantFrom(...dates),
  }),
  fc.record({
    type: fc.constant('MemberEnrolled'),
    org: fc.constantFrom(...orgs),
    at: fc.constantFrom(...dates),
  }),
  fc.record({
    type: fc.constant('MeetingHeld'),
    org: fc.constantFrom(...orgs),
    at: fc.constantFrom(...dates),
  }),
  fc.record({
    type: fc.constant('LegalEntityRegistered'),
    org: fc.constant('x'),
    at: fc.constantFrom(...dates),
  }),
  fc.record({
    type: fc.constant('AssociateAdmitted'),
    org: fc.constantFrom(...orgs),
    at: fc.constantFrom(...dates),
  }),
  fc.record({ type: fc.constant('MembershipCorrected'), org: fc.nat(40), at: fc.constantFrom(...dates) }),
  fc.record({ type: fc.constant('EventRetracted'), org: fc.nat(40), at: fc.constantFrom(...dates) }),
  fc.record({ type: fc.constant('Garbage'), org: fc.constant('x'), at: fc.constant('2020-02-30') }),
);

function build(spec: { type: string; org: string | number; at: string }[]) {
  const log = new LogBuilder('p');
  log.add('PtceRegistered', '2020-01-01', {
    name: 'P',
    territory: { name: 'T' },
    pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
  });
  for (const s of spec) {
    const org = String(s.org);
    const target = `e${s.org}`;
    switch (s.type) {
      case 'MemberJoined':
        log.add(s.type, s.at, { organisationId: org, name: org, category: 'enterprise' });
        break;
      case 'MemberLeft':
        log.add(s.type, s.at, { organisationId: org });
        break;
      case 'PilotHandedOver':
        log.add(s.type, s.at, { organisationId: org, previousPilotId: 'a' });
        break;
      case 'SpaceOpened':
        log.add(s.type, s.at, {
          spaceId: org,
          kind: 'strategic',
          name: org,
          rules: { quorum: 0.5, majority: 'simple' },
        });
        break;
      case 'SpaceClosed':
        log.add(s.type, s.at, { spaceId: org });
        break;
      case 'MemberEnrolled':
        log.add(s.type, s.at, { spaceId: 's1', organisationId: org, role: 'member' });
        break;
      case 'MeetingHeld':
        log.add(s.type, s.at, { spaceId: 's1', meetingId: `m${org}`, attendees: [org] });
        break;
      case 'LegalEntityRegistered':
        log.add(s.type, s.at, { name: 'E', legalForm: 'scic' });
        break;
      case 'AssociateAdmitted':
        log.add(s.type, s.at, { organisationId: org });
        break;
      case 'MembershipCorrected':
        log.now(s.type, {
          correctsEventId: target,
          organisationId: 'b',
          fields: { joinedAt: s.at },
          reason: 'r',
        });
        break;
      case 'EventRetracted':
        log.now(s.type, { retractedEventId: target, retractedType: 'MemberJoined', reason: 'r' });
        break;
      default:
        log.add(s.type, s.at, {});
        break;
    }
  }
  return log.events;
}

describe('ledger fold: properties', () => {
  it('never throws on random histories and is deterministic', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 40 }), fc.constantFrom(...dates), (spec, t) => {
        const events = build(spec);
        const a = foldLedger(events);
        const b = foldLedger(events);
        const view = (l: typeof a) => ({
          members: activeMembers(l, t),
          spaces: openSpaces(l, t),
          enrolled: enrolledMembers(l, 's1', t),
          pilot: pilotAt(l, t),
          associates: associatesAt(l, t),
          warnings: warnings(l),
        });
        expect(view(a)).toEqual(view(b));
        // Enrolled and associates are always active members.
        const active = new Set(view(a).members.map((m) => m.organisationId));
        for (const e of view(a).enrolled) expect(active.has(e.organisationId)).toBe(true);
        for (const x of view(a).associates) expect(active.has(x.organisationId)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('the valid-time state does not depend on the log order of backdated facts', () => {
    const events = build([
      { type: 'MemberJoined', org: 'b', at: '2020-02-01' },
      { type: 'SpaceOpened', org: 's1', at: '2020-01-01' },
      { type: 'MemberEnrolled', org: 'b', at: '2020-03-01' },
      { type: 'MemberJoined', org: 'c', at: '2020-03-01T10:00:00Z' },
      { type: 'MemberLeft', org: 'b', at: '2020-04-01' },
    ]);
    const [head, ...rest] = events;
    fc.assert(
      fc.property(
        fc.shuffledSubarray(rest, { minLength: rest.length, maxLength: rest.length }),
        (shuffled) => {
          const l = foldLedger([head!, ...shuffled]);
          for (const t of dates) {
            expect(ids(activeMembers(l, t))).toEqual(ids(activeMembers(foldLedger(events), t)));
            expect(ids(enrolledMembers(l, 's1', t))).toEqual(
              ids(enrolledMembers(foldLedger(events), 's1', t)),
            );
          }
        },
      ),
    );
  });
});

describe('ledger fold: incremental compilation', () => {
  it('compiling event by event gives what compiling the whole log gives', () => {
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 30 }), (spec) => {
        const events = build(spec);
        let stepwise = initialLedger();
        for (const e of events) {
          stepwise = evolveLedger(stepwise, e);
          compileLedger(stepwise);
        }
        const whole = foldLedger(events);
        const a = compileLedger(stepwise);
        const b = compileLedger(whole);
        expect(a).not.toBe(b);
        expect(a.facts).toEqual(b.facts);
        expect(a.warnings).toEqual(b.warnings);
        expect([...a.known.keys()]).toEqual([...b.known.keys()]);
        expect(warnings(stepwise)).toEqual(warnings(whole));
      }),
      { numRuns: 200 },
    );
  });
});
