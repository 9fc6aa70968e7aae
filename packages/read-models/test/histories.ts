import { foldLedger, type Ledger } from '@ptce/domain';
import type { EventStore } from '@ptce/event-store';
import {
  type EventEnvelope,
  type EventType,
  eventCatalog,
  isEventType,
  type NewEvent,
  newEventId,
  streamName,
} from '@ptce/events';
import fc from 'fast-check';
import { readPtceLog } from '../src/ptce-log.ts';

/*
 * Random PTCE histories written straight to an event store (no API, no decider): members joining
 * and leaving, corrections of joins (MembershipCorrected), spaces, enrolments, meetings, a legal
 * entity, associates, retractions, with valid times backdated and out of order.
 */

export const MEMBERS = ['m1', 'm2', 'm3', 'm4'] as const;
const SPACES = ['s1', 's2'] as const;
const CATEGORIES = ['ess_enterprise', 'local_authority', 'enterprise', 'research_higher_education'] as const;

/** A day between `from` and `to` days after 2019-01-02. */
export const dayIn = (from: number, to: number) =>
  fc
    .integer({ min: from, max: to })
    .map((n) => new Date(Date.UTC(2019, 0, 2) + n * 86_400_000).toISOString().slice(0, 10));

export type Command =
  | { kind: 'join'; member: string; category: string; at: string }
  | { kind: 'leave'; member: string; at: string }
  | { kind: 'correct'; pick: number; category: string; joinedAt: string | null }
  | { kind: 'space'; space: string; at: string }
  | { kind: 'enrol'; space: string; member: string; at: string }
  | { kind: 'meeting'; space: string; attendees: string[]; at: string }
  | { kind: 'entity'; at: string }
  | { kind: 'associate'; member: string; at: string }
  | { kind: 'retract'; pick: number };

const member = fc.constantFrom(...MEMBERS);
const space = fc.constantFrom(...SPACES);
const category = fc.constantFrom(...CATEGORIES);

export const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant('join' as const), member, category, at: dayIn(0, 300) }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('leave' as const), member, at: dayIn(900, 1800) }), weight: 1 },
  {
    arbitrary: fc.record({
      kind: fc.constant('correct' as const),
      pick: fc.nat(),
      category,
      joinedAt: fc.option(dayIn(0, 400), { nil: null }),
    }),
    weight: 2,
  },
  { arbitrary: fc.record({ kind: fc.constant('space' as const), space, at: dayIn(0, 300) }), weight: 2 },
  {
    arbitrary: fc.record({ kind: fc.constant('enrol' as const), space, member, at: dayIn(300, 600) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('meeting' as const),
      space,
      attendees: fc.subarray(['asso', ...MEMBERS], { minLength: 1 }),
      at: dayIn(600, 1500),
    }),
    weight: 3,
  },
  { arbitrary: fc.record({ kind: fc.constant('entity' as const), at: dayIn(300, 900) }), weight: 1 },
  {
    arbitrary: fc.record({ kind: fc.constant('associate' as const), member, at: dayIn(900, 1500) }),
    weight: 1,
  },
  { arbitrary: fc.record({ kind: fc.constant('retract' as const), pick: fc.nat() }), weight: 1 },
);

/** What a writer of one PTCE remembers: the events it wrote, for corrections and retractions. */
export class PtceWriter {
  readonly written: { eventId: string; type: string; organisationId?: string }[] = [];
  private meetings = 0;

  constructor(
    readonly store: EventStore,
    readonly ptceId: string,
  ) {}

  /** A new event of `type` for this PTCE (not written). */
  event(type: EventType, occurredAt: string, data: Record<string, unknown>): NewEvent {
    return {
      eventId: newEventId(),
      type,
      schemaVersion: eventCatalog[type].schemaVersion,
      ptceId: this.ptceId,
      occurredAt,
      recordedBy: 'secretary',
      data,
    };
  }

  /** Appends the events, each to its family's stream, in the order given. */
  async append(events: readonly NewEvent[]): Promise<EventEnvelope[]> {
    const stored: EventEnvelope[] = [];
    for (const event of events) {
      const family = isEventType(event.type) ? eventCatalog[event.type].family : 'membership';
      const result = await this.store.append(streamName(family, this.ptceId), [event], {
        expectedRevision: 'any',
      });
      stored.push(...result.events);
      const organisationId = event.data.organisationId;
      this.written.push({
        eventId: event.eventId,
        type: event.type,
        ...(typeof organisationId === 'string' ? { organisationId } : {}),
      });
    }
    return stored;
  }

  registration(occurredAt = '2019-01-01'): NewEvent {
    return this.event('PtceRegistered', occurredAt, {
      name: `PTCE ${this.ptceId}`,
      territory: { name: 'Pays test' },
      pilot: { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise' },
    });
  }

  /** The event a command writes; null when it has nothing to name (no join to correct yet). */
  eventOf(c: Command): NewEvent | null {
    switch (c.kind) {
      case 'join':
        return this.event('MemberJoined', c.at, {
          organisationId: c.member,
          name: c.member,
          category: c.category,
        });
      case 'leave':
        return this.event('MemberLeft', c.at, { organisationId: c.member });
      case 'correct': {
        const joins = this.written.filter((w) => w.type === 'MemberJoined');
        const join = joins[c.pick % Math.max(joins.length, 1)];
        if (!join || join.organisationId === undefined) return null;
        return this.event('MembershipCorrected', new Date().toISOString(), {
          correctsEventId: join.eventId,
          organisationId: join.organisationId,
          fields: { category: c.category, ...(c.joinedAt === null ? {} : { joinedAt: c.joinedAt }) },
          reason: 'correction',
        });
      }
      case 'space':
        return this.event('SpaceOpened', c.at, {
          spaceId: c.space,
          kind: 'strategic',
          name: c.space,
          rules: { quorum: 0.5, majority: 'simple' },
        });
      case 'enrol':
        return this.event('MemberEnrolled', c.at, {
          spaceId: c.space,
          organisationId: c.member,
          role: 'member',
        });
      case 'meeting':
        this.meetings += 1;
        return this.event('MeetingHeld', c.at, {
          spaceId: c.space,
          meetingId: `meeting-${this.meetings}`,
          attendees: c.attendees,
        });
      case 'entity':
        return this.event('LegalEntityRegistered', c.at, { name: 'SCIC test', legalForm: 'scic' });
      case 'associate':
        return this.event('AssociateAdmitted', c.at, { organisationId: c.member, college: 'fondateurs' });
      case 'retract': {
        // The registration too, now and then: the membership decider refuses it, but a tool writing
        // to the store directly may not, and a model must then go as the PTCE does.
        const target = this.written[c.pick % Math.max(this.written.length, 1)];
        if (!target) return null;
        return this.event('EventRetracted', new Date().toISOString(), {
          retractedEventId: target.eventId,
          retractedType: target.type,
          reason: 'retracted',
        });
      }
    }
  }

  /** Writes the commands one by one (a correction or retraction names what was written before). */
  async write(commands: readonly Command[]): Promise<EventEnvelope[]> {
    const stored: EventEnvelope[] = [];
    for (const c of commands) {
      const event = this.eventOf(c);
      if (event) stored.push(...(await this.append([event])));
    }
    return stored;
  }
}

/** The PTCE's whole log read from the store and folded from nothing: what a rebuild computes on. */
export async function freshFold(store: EventStore, ptceId: string): Promise<Ledger> {
  return foldLedger(await readPtceLog(store, ptceId));
}

/** The positions of a ledger's events, in log order. */
export function positionsOf(ledger: Ledger): string[] {
  const positions: string[] = [];
  for (let node = ledger.last; node; node = node.prev) positions.push(node.event.position);
  return positions.reverse();
}

/** The JSON a value would have once serialised (as Redis and the API hold it). */
export const json = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;
