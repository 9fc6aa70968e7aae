import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  type CatalogEntry,
  eventCatalog,
  eventTypes,
  evidenceSchema,
  InvalidEventDataError,
  parseEvent,
  streamFamilyOf,
  streamName,
  UnknownEventTypeError,
} from '../src/catalog/index.ts';

describe('eventCatalog', () => {
  it('names every event in the past tense and files it in one of three families', () => {
    expect(eventTypes).toHaveLength(25);
    for (const t of eventTypes) {
      expect(['membership', 'workgroups', 'decisions']).toContain(eventCatalog[t].family);
      expect(eventCatalog[t].schemaVersion).toBeGreaterThanOrEqual(1);
    }
    expect(streamFamilyOf('EventRetracted')).toBe('membership');
    expect(streamFamilyOf('MeetingHeld')).toBe('workgroups');
    expect(streamFamilyOf('SpaceRulesChanged')).toBe('workgroups');
    expect(eventCatalog.SpaceRulesChanged.schemaVersion).toBe(1);
    expect(streamFamilyOf('DecisionAnnulled')).toBe('decisions');
    expect(streamName('decisions', 'val-coop')).toBe('decisions-val-coop');
  });
});

describe('parseEvent', () => {
  it('parses a valid event and narrows its type', () => {
    const e = parseEvent({
      type: 'MemberJoined',
      schemaVersion: 1,
      data: { organisationId: 'cc-val', name: 'CC du Val', category: 'local_authority' },
    });
    expect(e.type).toBe('MemberJoined');
    if (e.type === 'MemberJoined') expect(e.data.category).toBe('local_authority');
  });

  it.each([
    ['an unknown category', 'MemberJoined', { organisationId: 'x', name: 'X', category: 'not_a_category' }],
    ['a non-slug id', 'MemberJoined', { organisationId: 'Bad Id', name: 'X', category: 'enterprise' }],
    ['an unknown field', 'MemberLeft', { organisationId: 'x', extra: 1 }],
    [
      'an impossible date',
      'MembershipCorrected',
      {
        correctsEventId: 'e1',
        organisationId: 'x',
        fields: { joinedAt: '2021-02-30' },
        reason: 'r',
      },
    ],
    [
      'a quorum above 1',
      'SpaceOpened',
      {
        spaceId: 's',
        kind: 'strategic',
        name: 'S',
        rules: { quorum: 1.5, majority: 'simple' },
      },
    ],
    [
      'a negative tally',
      'DecisionRecorded',
      {
        decisionId: 'd',
        spaceId: 's',
        present: [],
        title: 'T',
        kind: 'general',
        vote: { for: -1, against: 0, abstain: 0 },
        rules: { quorum: 0.5, majority: 'simple' },
        enrolledCount: 0,
        outcome: 'adopted',
      },
    ],
    [
      'a bad subject',
      'DecisionRecorded',
      {
        decisionId: 'd',
        spaceId: 's',
        present: [],
        title: 'T',
        kind: 'shared_legal_structure',
        subject: { step: 'dreamt', legalForm: 'scic' },
        vote: { method: 'consensus', objections: 0 },
        rules: { quorum: 0.5, majority: 'consensus' },
        enrolledCount: 0,
        outcome: 'adopted',
      },
    ],
    ['empty attendees', 'MeetingHeld', { spaceId: 's', meetingId: 'm', attendees: [] }],
  ])('refuses %s', (_why, type, data) => {
    expect(() => parseEvent({ type, schemaVersion: 1, data })).toThrow(InvalidEventDataError);
  });

  it('accepts a consensus vote and a tally', () => {
    const base = {
      decisionId: 'd',
      spaceId: 's',
      present: ['a'],
      title: 'T',
      kind: 'general',
      rules: { quorum: 0.5, majority: 'simple' },
      enrolledCount: 1,
      outcome: 'adopted',
    };
    expect(() =>
      parseEvent({
        type: 'DecisionRecorded',
        schemaVersion: 1,
        data: { ...base, vote: { method: 'consensus', objections: 0 } },
      }),
    ).not.toThrow();
    expect(() =>
      parseEvent({
        type: 'DecisionRecorded',
        schemaVersion: 1,
        data: { ...base, vote: { for: 1, against: 0, abstain: 0 } },
      }),
    ).not.toThrow();
  });

  it('refuses unknown types and versions from the future', () => {
    expect(() => parseEvent({ type: 'MemberTeleported', schemaVersion: 1, data: {} })).toThrow(
      UnknownEventTypeError,
    );
    expect(() => parseEvent({ type: 'toString', schemaVersion: 1, data: {} })).toThrow(UnknownEventTypeError);
    expect(() => parseEvent({ type: 'MemberLeft', schemaVersion: 2, data: { organisationId: 'x' } })).toThrow(
      /unsupported version/,
    );
  });

  it('upcasts older versions step by step through the registered upcasters', () => {
    // v1 had no category, v2 a free-text `kind`, v3 (current) the enum category.
    const catalog: Record<string, CatalogEntry> = {
      MemberJoined: {
        family: 'membership',
        schemaVersion: 3,
        schema: eventCatalog.MemberJoined.schema,
        upcasters: {
          1: (d) => ({ ...d, kind: 'autre' }),
          2: ({ kind, ...rest }) => ({
            ...rest,
            category: kind === 'entreprise' ? 'enterprise' : 'other_legal_person',
          }),
        },
      },
    };
    expect(
      parseEvent(
        { type: 'MemberJoined', schemaVersion: 1, data: { organisationId: 'a', name: 'A' } },
        catalog,
      ),
    ).toEqual({
      type: 'MemberJoined',
      data: { organisationId: 'a', name: 'A', category: 'other_legal_person' },
    });
    expect(
      parseEvent(
        {
          type: 'MemberJoined',
          schemaVersion: 2,
          data: { organisationId: 'a', name: 'A', kind: 'entreprise' },
        },
        catalog,
      ),
    ).toEqual({ type: 'MemberJoined', data: { organisationId: 'a', name: 'A', category: 'enterprise' } });
    const gap: Record<string, CatalogEntry> = {
      X: { family: 'membership', schemaVersion: 2, schema: z.object({}), upcasters: {} },
    };
    expect(() => parseEvent({ type: 'X', schemaVersion: 1, data: {} }, gap)).toThrow(/no upcaster/);
  });
});

describe('evidenceSchema', () => {
  it('is strict and checks the hash', () => {
    expect(evidenceSchema.safeParse({ source: 'minutes', sha256: 'a'.repeat(64), note: 'n' }).success).toBe(
      true,
    );
    expect(evidenceSchema.safeParse({ sha256: 'abc' }).success).toBe(false);
    expect(evidenceSchema.safeParse({ source: 'x', url: 'y' }).success).toBe(false);
  });
});

describe('SpaceRulesChanged', () => {
  it('carries the space, its new rules and an optional reason', () => {
    const e = parseEvent({
      type: 'SpaceRulesChanged',
      schemaVersion: 1,
      data: { spaceId: 'conseil', rules: { quorum: 0.4, majority: 'absolute' }, reason: 'bylaws' },
    });
    expect(e).toEqual({
      type: 'SpaceRulesChanged',
      data: { spaceId: 'conseil', rules: { quorum: 0.4, majority: 'absolute' }, reason: 'bylaws' },
    });
  });
  it.each([
    ['a quorum above 1', { spaceId: 's', rules: { quorum: 1.2, majority: 'simple' } }],
    ['an unknown majority', { spaceId: 's', rules: { quorum: 0.5, majority: 'most' } }],
    ['no rules', { spaceId: 's' }],
    ['an unknown field', { spaceId: 's', rules: { quorum: 0.5, majority: 'simple' }, extra: 1 }],
  ])('refuses %s', (_, data) => {
    expect(() => parseEvent({ type: 'SpaceRulesChanged', schemaVersion: 1, data })).toThrow(
      InvalidEventDataError,
    );
  });
});
