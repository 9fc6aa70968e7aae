import { compileLedger, foldLedger, visitFacts } from '@ptce/domain';
import { parisDay } from '@ptce/events';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
// The domain's own log builder: projections read the ledgers the domain folds.
import { LogBuilder } from '../../domain/test/fixtures.ts';
import {
  assessStage,
  ledgerAt,
  readStageAt,
  type StageRules,
  stageAt,
  stageAtOnTimeline,
  stageOf,
  stageRules,
  stageTimeline,
} from '../src/index.ts';
import { StageHistory } from './stage-history.ts';

/** Rises to a collective group, then falls back when a newcomer gets no steering seat. */
function riseAndFall() {
  const h = new StageHistory();
  const registered = h.register('2020-01-01');
  h.join('a', 'enterprise', '2020-02-01');
  const secondPartner = h.join('b', 'local_authority', '2020-02-01');
  h.openSpace('copil', 'strategic', '2020-03-01');
  h.enrol('copil', 'pilot', '2020-03-01');
  h.enrol('copil', 'a', '2020-03-01');
  const lastSeat = h.enrol('copil', 'b', '2020-03-01');
  // Mid-morning in Paris: the stage falls back during the day, not at its start.
  const newcomer = h.join('c', 'enterprise', '2020-06-01T10:00:00+02:00');
  return { h, registered, secondPartner, lastSeat, newcomer };
}

describe('stage timeline', () => {
  it('rises to a collective group and falls back to divided groups when a member joins without a steering seat', () => {
    const { h, registered, secondPartner, lastSeat, newcomer } = riseAndFall();
    expect(stageTimeline(h.ledger())).toEqual([
      {
        stage: 'individual_impulse',
        label: { fr: 'Impulsion individuelle', en: 'Individual impulse' },
        from: '2020-01-01',
        to: '2020-02-01',
        cause: { eventId: registered.eventId, type: 'PtceRegistered' },
      },
      {
        stage: 'divided_groups',
        label: { fr: 'Groupes divisés', en: 'Divided groups' },
        from: '2020-02-01',
        to: '2020-03-01',
        // The first join leaves one partner: the second one makes the group.
        cause: { eventId: secondPartner.eventId, type: 'MemberJoined' },
      },
      {
        stage: 'collective_group',
        label: { fr: 'Groupe collectif', en: 'Collective group' },
        from: '2020-03-01',
        to: '2020-06-01',
        // Two seats of three are 2/3 of the members: the third seat reaches 0.9.
        cause: { eventId: lastSeat.eventId, type: 'MemberEnrolled' },
      },
      {
        stage: 'divided_groups',
        label: { fr: 'Groupes divisés', en: 'Divided groups' },
        from: '2020-06-01',
        to: null,
        cause: { eventId: newcomer.eventId, type: 'MemberJoined' },
      },
    ]);
  });

  it('gives a stage answer its entry’s from as since, before and after a change during the day', () => {
    const { h } = riseAndFall();
    const ledger = h.ledger();
    expect(stageAt(ledger, '2020-04-15')).toMatchObject({ stage: 'collective_group', since: '2020-03-01' });
    expect(stageAt(ledger, '2020-06-01T09:00:00+02:00')).toMatchObject({
      stage: 'collective_group',
      since: '2020-03-01',
    });
    expect(stageAt(ledger, '2020-06-01')).toMatchObject({ stage: 'divided_groups', since: '2020-06-01' });
    expect(stageAt(ledger, '2031-01-01')).toMatchObject({ stage: 'divided_groups', since: '2020-06-01' });
    expect(stageAt(ledger, '2019-12-31')).toMatchObject({ stage: 'not_started', since: null });
  });

  it('names the fact after which the stage holds to the end of the day, not the first that reached it', () => {
    const h = new StageHistory();
    h.register('2020-01-01');
    h.join('a', 'enterprise', '2020-01-01');
    h.join('b', 'enterprise', '2020-01-01');
    h.openSpace('copil', 'strategic', '2020-01-01');
    for (const id of ['pilot', 'a', 'b']) h.enrol('copil', id, '2020-01-01');
    // Collective after the seats, divided once c joins, collective again once c has a seat.
    h.join('c', 'enterprise', '2020-01-01');
    const seatOfC = h.enrol('copil', 'c', '2020-01-01');
    expect(stageTimeline(h.ledger())).toEqual([
      expect.objectContaining({
        stage: 'collective_group',
        from: '2020-01-01',
        to: null,
        cause: { eventId: seatOfC.eventId, type: 'MemberEnrolled' },
      }),
    ]);
  });

  it('a day whose facts end at the stage it began with makes no entry', () => {
    const h = new StageHistory();
    h.register('2020-01-01');
    h.join('a', 'enterprise', '2020-02-01');
    h.join('b', 'enterprise', '2020-02-01');
    h.leave('b', '2020-02-01T12:00:00+01:00');
    expect(stageTimeline(h.ledger()).map((e) => [e.stage, e.from, e.to])).toEqual([
      ['individual_impulse', '2020-01-01', null],
    ]);
  });

  it('places facts at their corrected valid time and leaves out retracted ones', () => {
    const h = new StageHistory();
    h.register('2020-01-01');
    h.join('a', 'enterprise', '2020-02-01');
    const late = h.join('b', 'enterprise', '2020-02-01');
    h.log.now('MembershipCorrected', {
      correctsEventId: late.eventId,
      organisationId: 'b',
      fields: { joinedAt: '2020-05-01' },
      reason: 'convention signed later',
    });
    const stray = h.join('c', 'enterprise', '2020-03-01');
    h.log.now('EventRetracted', {
      retractedEventId: stray.eventId,
      retractedType: 'MemberJoined',
      reason: 'r',
    });
    expect(stageTimeline(h.ledger())).toEqual([
      expect.objectContaining({ stage: 'individual_impulse', from: '2020-01-01', to: '2020-05-01' }),
      expect.objectContaining({
        stage: 'divided_groups',
        from: '2020-05-01',
        cause: { eventId: late.eventId, type: 'MemberJoined' },
      }),
    ]);
  });

  it('reads a stage at an instant before the first fact of its day as the state before any fact', () => {
    const log = new LogBuilder('p');
    log.add('PtceRegistered', '2020-03-01T10:00:00+01:00', {
      name: 'P',
      territory: { name: 'T' },
      pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
    });
    const ledger = foldLedger(log.events);
    expect(stageAt(ledger, '2020-03-01T09:30:00+01:00').stage).toBe('not_started');
    expect(stageAt(ledger, '2020-03-01T10:00:00+01:00')).toMatchObject({
      stage: 'individual_impulse',
      since: '2020-03-01',
    });
  });

  it('is empty for a ledger that never registers', () => {
    const h = new StageHistory();
    h.join('a', 'enterprise', '2020-02-01');
    expect(stageTimeline(h.ledger())).toEqual([]);
    expect(stageTimeline(foldLedger([]))).toEqual([]);
  });

  it('refuses thresholds out of range', () => {
    expect(() => stageTimeline(riseAndFall().h.ledger(), { ...stageRules(), collectiveShare: 2 })).toThrow();
  });
});

// Random histories: a few organisations of two categories, spaces of each kind, seats, the
// legal entity and its associates, departures, corrections and retractions, on a few days with
// instants inside them (one at a Paris midnight, one in the Paris evening of the day before in UTC).
const orgs = ['a', 'b', 'c', 'd', 'e'];
const spaces = { s1: 'strategic', s2: 'operational', s3: 'governance' } as const;
const dates = [
  '2019-12-31',
  '2020-01-01',
  '2020-01-01T12:00:00Z',
  '2020-02-01',
  '2020-02-01T23:30:00Z',
  '2020-03-01',
  '2020-02-29T23:00:00Z',
  '2020-03-01T10:00:00Z',
  '2020-04-01',
  '2020-05-01',
];
const at = fc.constantFrom(...dates);
const org = fc.constantFrom(...orgs);
const spaceId = fc.constantFrom(...(Object.keys(spaces) as (keyof typeof spaces)[]));
// Weighted towards joins and seats, so that most histories climb past the individual impulse.
const step = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      type: fc.constant('MemberJoined' as const),
      org,
      at,
      category: fc.constantFrom('enterprise', 'local_authority'),
    }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('MemberLeft' as const), org, at }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('PilotHandedOver' as const), org, at }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('SpaceOpened' as const), spaceId, at }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('SpaceClosed' as const), spaceId, at }) },
  { weight: 6, arbitrary: fc.record({ type: fc.constant('MemberEnrolled' as const), spaceId, org, at }) },
  // Seats every organisation at once (those not members at that date are skipped): shared steering.
  { weight: 2, arbitrary: fc.record({ type: fc.constant('EveryoneEnrolled' as const), spaceId, at }) },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('MemberWithdrawnFromSpace' as const), spaceId, org, at }),
  },
  { weight: 2, arbitrary: fc.record({ type: fc.constant('LegalEntityRegistered' as const), at }) },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('AssociateAdmitted' as const), org, at }) },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('AssociateWithdrew' as const), org, at }) },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('MembershipCorrected' as const), target: fc.nat(40), at }),
  },
  { weight: 1, arbitrary: fc.record({ type: fc.constant('EventRetracted' as const), target: fc.nat(40) }) },
);
type Step = typeof step extends fc.Arbitrary<infer S> ? S : never;

function history(registeredAt: string, steps: readonly Step[]) {
  const log = new LogBuilder('p');
  log.add('PtceRegistered', registeredAt, {
    name: 'P',
    territory: { name: 'T' },
    pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
  });
  // A steering and an operational space from the start, so that seats have somewhere to go.
  for (const id of ['s1', 's2'] as const) {
    log.add('SpaceOpened', registeredAt, {
      spaceId: id,
      kind: spaces[id],
      name: id,
      rules: { quorum: 0.5, majority: 'simple' },
    });
  }
  for (const s of steps) {
    switch (s.type) {
      case 'MemberJoined':
        log.add(s.type, s.at, { organisationId: s.org, name: s.org, category: s.category });
        break;
      case 'MemberLeft':
      case 'AssociateAdmitted':
      case 'AssociateWithdrew':
        log.add(s.type, s.at, { organisationId: s.org });
        break;
      case 'PilotHandedOver':
        log.add(s.type, s.at, { organisationId: s.org, previousPilotId: 'a' });
        break;
      case 'SpaceOpened':
        log.add(s.type, s.at, {
          spaceId: s.spaceId,
          kind: spaces[s.spaceId],
          name: s.spaceId,
          rules: { quorum: 0.5, majority: 'simple' },
        });
        break;
      case 'SpaceClosed':
        log.add(s.type, s.at, { spaceId: s.spaceId });
        break;
      case 'MemberEnrolled':
        log.add(s.type, s.at, { spaceId: s.spaceId, organisationId: s.org, role: 'member' });
        break;
      case 'EveryoneEnrolled':
        for (const o of orgs)
          log.add('MemberEnrolled', s.at, { spaceId: s.spaceId, organisationId: o, role: 'member' });
        break;
      case 'MemberWithdrawnFromSpace':
        log.add(s.type, s.at, { spaceId: s.spaceId, organisationId: s.org });
        break;
      case 'LegalEntityRegistered':
        log.add(s.type, s.at, { name: 'E', legalForm: 'scic' });
        break;
      case 'MembershipCorrected':
        log.now(s.type, {
          correctsEventId: `e${s.target}`,
          organisationId: orgs[s.target % orgs.length],
          fields: { joinedAt: s.at },
          reason: 'r',
        });
        break;
      case 'EventRetracted':
        log.now(s.type, { retractedEventId: `e${s.target}`, retractedType: 'MemberJoined', reason: 'r' });
        break;
    }
  }
  return foldLedger(log.events);
}

const rulesArb: fc.Arbitrary<StageRules> = fc.record({
  minPartners: fc.integer({ min: 1, max: 3 }),
  collectiveShare: fc.constantFrom(0.3, 0.5, 0.75, 0.9, 1),
  minAssociateShare: fc.constantFrom(0, 0.3, 0.5, 1),
  stalledAfterMonths: fc.constant(12),
});

/** A registration day, the steps after it and the thresholds: the arguments of each property. */
const historyAndRules = [
  fc.constantFrom('2019-12-31', '2020-01-01', '2020-01-01T12:00:00Z', '2020-02-01'),
  fc.array(step, { minLength: 5, maxLength: 40, size: 'medium' }),
  rulesArb,
] as const;

describe('stage timeline: properties', () => {
  it('each entry’s stage is the stage at the end of its from day, and no stage follows itself', () => {
    fc.assert(
      fc.property(...historyAndRules, (registeredAt, steps, rules) => {
        const ledger = history(registeredAt, steps);
        const timeline = stageTimeline(ledger, rules);
        timeline.forEach((entry, i) => {
          const answer = stageAt(ledger, entry.from, rules);
          expect(answer.stage).toBe(entry.stage);
          expect(answer.since).toBe(entry.from);
          const next = timeline[i + 1];
          expect(entry.to).toBe(next?.from ?? null);
          if (next) {
            expect(next.stage).not.toBe(entry.stage);
            expect(next.from > entry.from).toBe(true);
          }
          expect(parisDay(compileLedger(ledger).factsById.get(entry.cause.eventId)!.occurredAt)).toBe(
            entry.from,
          );
        });
        // Every day a fact takes effect ends at the stage of the entry covering it.
        for (const fact of compileLedger(ledger).facts) {
          const day = parisDay(fact.occurredAt);
          const covering = timeline.findLast((entry) => entry.from <= day);
          const state = ledgerAt(ledger, day);
          expect(assessStage(state, day, rules).stage).toBe(covering?.stage ?? 'not_started');
          // The timeline's lean count of the criteria agrees with the assessment's.
          expect(stageOf(state, rules)).toBe(covering?.stage ?? 'not_started');
        }
        // One replay gives the stage and the warnings the state at asOf has, at any asOf.
        for (const asOf of [...dates, '2019-01-01', '2030-01-01']) {
          const state = ledgerAt(ledger, asOf);
          const reading = readStageAt(ledger, asOf, rules);
          const { since: _since, ...answer } = reading.answer;
          expect(answer).toEqual(assessStage(state, asOf, rules));
          expect(reading.warnings).toEqual(state.warnings);
          // Read off the timeline, as a read model does, the answer is the same.
          expect(stageAtOnTimeline(ledger, asOf, timeline, rules)).toEqual(reading.answer);
        }
      }),
      { numRuns: 200 },
    );
  });

  it('each entry’s cause is the earliest fact of its day after which the stage, evaluated after every fact, is the entry’s to the day’s end', () => {
    fc.assert(
      fc.property(...historyAndRules, (registeredAt, steps, rules) => {
        const ledger = history(registeredAt, steps);
        // Plainly: the stage after each fact, every fact, in replay order.
        const after: { eventId: string; day: string; stage: string }[] = [];
        visitFacts(ledger, (fact, state) => {
          after.push({
            eventId: fact.eventId,
            day: parisDay(fact.occurredAt),
            stage: stageOf(state, rules),
          });
          return true;
        });
        for (const entry of stageTimeline(ledger, rules)) {
          const ofDay = after.filter((a) => a.day === entry.from);
          let first = ofDay.length - 1;
          while (first > 0 && ofDay[first - 1]!.stage === entry.stage) first--;
          expect(entry.cause.eventId).toBe(ofDay[first]!.eventId);
        }
      }),
      { numRuns: 300 },
    );
  });
});
