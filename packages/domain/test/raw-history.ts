import type { EventEnvelope } from '@ptce/events';
import fc from 'fast-check';
import type { Cut } from '../src/index.ts';
import { LogBuilder } from './fixtures.ts';

/*
 * Random raw logs for the fold's properties: any event type, corrections, retractions, duplicates
 * and garbage, at a handful of dates and instants (anything goes: contradictions, bad references).
 */

export const orgs = ['a', 'b', 'c', 'd'];
export const spaces = ['s1', 's2'];
export const dates = [
  '2019-12-31',
  '2020-01-01',
  '2020-02-01',
  '2020-03-01',
  '2020-03-01T10:00:00Z',
  '2020-03-01T10:00:00+01:00',
  '2020-04-01',
  '2021-01-01',
  '2021-01-01T08:00:00Z',
];
export const dateArb = fc.constantFrom(...dates);
export const cutArb: fc.Arbitrary<Cut> = fc.oneof(
  fc.constant<Cut>({ kind: 'all' }),
  dateArb.map((at): Cut => ({ kind: 'asOf', at })),
  dateArb.map((at): Cut => ({ kind: 'before', at })),
);

export interface Raw {
  readonly type: string;
  readonly org: string;
  readonly space: string;
  readonly at: string;
  /** Picks an earlier event (corrections, retractions, duplicates) by index modulo the log size. */
  readonly ref: number;
}

export const rawArb: fc.Arbitrary<Raw> = fc.record({
  type: fc.constantFrom(
    'MemberJoined',
    'MemberJoined',
    'MemberLeft',
    'PilotHandedOver',
    'SpaceOpened',
    'SpaceClosed',
    'SpaceRulesChanged',
    'MemberEnrolled',
    'MemberWithdrawnFromSpace',
    'MeetingHeld',
    'DecisionRecorded',
    'DecisionAnnulled',
    'ActivityLaunched',
    'CarrierJoined',
    'ActivityEnded',
    'LegalEntityRegistered',
    'AssociateAdmitted',
    'AssociateWithdrew',
    'RecognitionGranted',
    'MembershipCorrected',
    'Renamed',
    'MeetingCorrected',
    'DecisionCorrected',
    'EventRetracted',
    'Duplicate',
    'Garbage',
  ),
  org: fc.constantFrom(...orgs),
  space: fc.constantFrom(...spaces),
  at: dateArb,
  ref: fc.nat(1000),
});

/** The common case the fast path serves: new facts later than every recorded one. */
export const tailRawArb: fc.Arbitrary<Raw> = fc
  .tuple(rawArb, fc.constantFrom('2022-06-01', '2022-06-01T09:00:00Z', '2022-06-02'))
  .map(([r, at]) => ({ ...r, at }));
export const lateRawArb: fc.Arbitrary<Raw> = fc.oneof(rawArb, tailRawArb);

export const RULES = { quorum: 0.5, majority: 'simple' };
export const VOTE = { for: 1, against: 0, abstain: 0 };

/** Appends one raw history item to the log (anything goes: contradictions, bad references, garbage). */
export function addRaw(log: LogBuilder, r: Raw): EventEnvelope {
  const pick = () => log.events[r.ref % log.events.length]!;
  switch (r.type) {
    case 'MemberJoined':
      return log.add(r.type, r.at, {
        organisationId: r.org,
        name: r.org,
        category: 'enterprise',
        ...(r.ref % 3 === 0 ? { legalStatus: 'public' } : {}),
      });
    case 'MemberLeft':
    case 'AssociateAdmitted':
    case 'AssociateWithdrew':
      return log.add(r.type, r.at, { organisationId: r.org });
    case 'PilotHandedOver':
      return log.add(r.type, r.at, { organisationId: r.org, previousPilotId: 'a' });
    case 'SpaceOpened':
      return log.add(r.type, r.at, { spaceId: r.space, kind: 'strategic', name: r.space, rules: RULES });
    case 'SpaceClosed':
      return log.add(r.type, r.at, { spaceId: r.space });
    case 'SpaceRulesChanged':
      // Half the changes keep the rules decisions are recorded under, half do not.
      return log.add(r.type, r.at, {
        spaceId: r.space,
        rules: r.ref % 2 === 0 ? RULES : { quorum: 0.75, majority: 'two_thirds' },
      });
    case 'MemberEnrolled':
      return log.add(r.type, r.at, { spaceId: r.space, organisationId: r.org, role: 'member' });
    case 'MemberWithdrawnFromSpace':
      return log.add(r.type, r.at, { spaceId: r.space, organisationId: r.org });
    case 'MeetingHeld':
      return log.add(r.type, r.at, { spaceId: r.space, meetingId: `m-${r.org}`, attendees: [r.org] });
    case 'DecisionRecorded':
      return log.add(r.type, r.at, {
        decisionId: `d-${r.org}`,
        spaceId: r.space,
        present: [r.org],
        title: 't',
        kind: 'general',
        vote: VOTE,
        rules: RULES,
        enrolledCount: 1,
        outcome: 'adopted',
      });
    case 'DecisionAnnulled':
      // One in three given no date of its own: placed at the decision's date as corrected.
      return log.add(r.type, r.at, {
        decisionId: `d-${r.org}`,
        reason: 'r',
        ...(r.ref % 3 === 0 ? { retroactive: true } : {}),
      });
    case 'ActivityLaunched':
      return log.add(r.type, r.at, { activityId: `x-${r.space}`, name: 'x', carriers: [r.org] });
    case 'CarrierJoined':
      return log.add(r.type, r.at, { activityId: `x-${r.space}`, organisationId: r.org });
    case 'ActivityEnded':
      return log.add(r.type, r.at, { activityId: `x-${r.space}` });
    case 'LegalEntityRegistered':
      return log.add(r.type, r.at, { name: 'E', legalForm: 'scic' });
    case 'RecognitionGranted':
      return log.add(r.type, r.at, { programme: 'p', grantor: 'g' });
    case 'MembershipCorrected': {
      const target = pick();
      const data = target.data as { organisationId?: string };
      return log.now(r.type, {
        correctsEventId: target.eventId,
        organisationId: data.organisationId ?? 'a',
        fields: { joinedAt: r.at },
        reason: 'r',
      });
    }
    case 'Renamed': {
      // A correction of what no replay decides on: the name alone.
      const target = pick();
      const data = target.data as { organisationId?: string; pilot?: { organisationId?: string } };
      return log.now('MembershipCorrected', {
        correctsEventId: target.eventId,
        organisationId: data.organisationId ?? data.pilot?.organisationId ?? 'a',
        fields: { name: `renamed ${r.ref}` },
        reason: 'r',
      });
    }
    case 'MeetingCorrected': {
      const target = pick();
      const data = target.data as { meetingId?: string; spaceId?: string };
      return log.now(r.type, {
        correctsEventId: target.eventId,
        spaceId: data.spaceId ?? r.space,
        meetingId: data.meetingId ?? 'm',
        fields: { heldAt: r.at, attendees: [r.org] },
        reason: 'r',
      });
    }
    case 'DecisionCorrected': {
      const target = pick();
      const data = target.data as { decisionId?: string };
      return log.now(r.type, {
        correctsEventId: target.eventId,
        decisionId: data.decisionId ?? 'd',
        fields: { decidedAt: r.at },
        reason: 'r',
        rules: RULES,
        enrolledCount: 2,
        outcome: 'rejected',
      });
    }
    case 'EventRetracted': {
      const target = pick();
      return log.now(r.type, { retractedEventId: target.eventId, retractedType: target.type, reason: 'r' });
    }
    case 'Duplicate': {
      const target = pick();
      return log.add(target.type, target.occurredAt, target.data as Record<string, unknown>, target.eventId);
    }
    default:
      return log.add(r.type, '2020-02-30', {});
  }
}

export function registeredLog(): LogBuilder {
  const log = new LogBuilder('p');
  log.add('PtceRegistered', '2020-01-01', {
    name: 'P',
    territory: { name: 'T' },
    pilot: { organisationId: 'a', name: 'A', category: 'enterprise' },
  });
  return log;
}
