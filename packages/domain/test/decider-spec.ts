import type { EventType } from '@ptce/events';
import { expect } from 'vitest';
import {
  type DecideContext,
  DomainError,
  type EventToAppend,
  foldLedger,
  type Ledger,
} from '../src/index.ts';
import { LogBuilder } from './fixtures.ts';

export type Given = (log: LogBuilder) => void;

/** What the clock reads unless a test says otherwise: corrections and retractions are dated by it. */
export const NOW = '2024-06-01T12:00:00.000Z';

/**
 * given(history) / when(command) / then(events | error), after Emmett's DeciderSpecification:
 * no store, no HTTP, the clock passed in.
 */
export function deciderSpec<C>(decide: (command: C, ledger: Ledger, ctx: DecideContext) => EventToAppend[]) {
  return {
    given(...history: Given[]) {
      const log = new LogBuilder('p');
      for (const h of history) h(log);
      const ledger = foldLedger(log.events);
      return {
        log,
        when(command: C, ctx: DecideContext = { now: Date.parse(NOW) }) {
          const run = () => decide(command, ledger, ctx);
          return {
            /** The events emitted, exactly: every field of type, data, occurredAt and evidence. */
            thenEmits(expected: readonly EventToAppend[]) {
              const events = run();
              expect(events).toEqual(expected);
              return events;
            },
            thenThrows(code: string, status: number, details?: Record<string, unknown>) {
              let caught: unknown;
              try {
                run();
              } catch (err) {
                caught = err;
              }
              expect(caught, `expected ${code}`).toBeInstanceOf(DomainError);
              const err = caught as DomainError;
              expect({ code: err.code, status: err.status }).toEqual({ code, status });
              expect(err.message.length).toBeGreaterThan(0);
              if (details) expect(err.details).toEqual(details);
              return err;
            },
          };
        },
      };
    },
  };
}

/** A correction or a retraction as a decider emits it: in transaction time, dated by the clock. */
export const recordedNow = (type: EventType, data: Record<string, unknown>): EventToAppend => ({
  type,
  data,
  occurredAt: NOW,
});

/** A PTCE `p` registered on 2020-01-01 with pilot `a` (ess_enterprise). */
export const registered: Given = (log) => {
  log.add('PtceRegistered', '2020-01-01', {
    name: 'P',
    territory: { name: 'T' },
    pilot: { organisationId: 'a', name: 'A', category: 'ess_enterprise' },
  });
};

export const joined =
  (org: string, at: string, category = 'enterprise'): Given =>
  (log) => {
    log.add(
      'MemberJoined',
      at,
      { organisationId: org, name: org.toUpperCase(), category },
      `join-${org}-${at}`,
    );
  };

export const left =
  (org: string, at: string): Given =>
  (log) => {
    log.add('MemberLeft', at, { organisationId: org });
  };

export const opened =
  (spaceId: string, at: string, majority = 'simple', kind = 'strategic', quorum = 0.5): Given =>
  (log) => {
    log.add(
      'SpaceOpened',
      at,
      { spaceId, kind, name: spaceId, rules: { quorum, majority } },
      `open-${spaceId}`,
    );
  };

export const enrolled =
  (spaceId: string, org: string, at: string): Given =>
  (log) => {
    log.add('MemberEnrolled', at, { spaceId, organisationId: org, role: 'member' });
  };

export const met =
  (spaceId: string, meetingId: string, attendees: string[], at: string): Given =>
  (log) => {
    log.add('MeetingHeld', at, { spaceId, meetingId, attendees }, `meet-${meetingId}`);
  };
