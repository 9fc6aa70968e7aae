import { foldLedger } from '@ptce/domain';
import type { EventEnvelope } from '@ptce/events';
import { clientFor, startTestServer, type TestServer } from '@ptce/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  DEFAULT_STAGE_RULES,
  eligibilityOf,
  ledgerAt,
  legalTransitionOf,
  stageAt,
  stageTimeline,
  warnings,
} from '../../../packages/projections/src/index.ts';

/*
 * Property tests of the as-of engine: on random histories written through the API (members
 * joining and leaving, spaces, enrolments, meetings, a legal entity, associates, corrections and
 * retractions, backdated and out of order, in random batches), every answer for a random asOf and
 * knownAt equals a naive replay of exactly the events recorded by knownAt, and an answer at a
 * given (asOf, atPosition) never changes as more events arrive.
 */

let server: TestServer;
let secretary: string;
let counter = 0;

const MEMBERS = ['m1', 'm2', 'm3', 'm4'] as const;
const SPACES = ['s1', 's2'] as const;
const CATEGORIES = ['ess_enterprise', 'local_authority', 'enterprise'] as const;

/** A day between `from` and `to` days after 2019-01-02: joins early, meetings later, departures last. */
const dayIn = (from: number, to: number) =>
  fc
    .integer({ min: from, max: to })
    .map((n) => new Date(Date.UTC(2019, 0, 2) + n * 86_400_000).toISOString().slice(0, 10));
const day = dayIn(0, 5 * 365);

type Command =
  | { kind: 'join'; member: string; category: string; at: string }
  | { kind: 'leave'; member: string; at: string }
  | { kind: 'recategorise'; member: string; category: string }
  | { kind: 'space'; space: string; at: string }
  | { kind: 'enrol'; space: string; member: string; at: string }
  | { kind: 'meeting'; space: string; attendees: string[]; at: string }
  | { kind: 'entity'; at: string }
  | { kind: 'associate'; member: string; at: string }
  | { kind: 'retract'; pick: number };

const member = fc.constantFrom(...MEMBERS);
const space = fc.constantFrom(...SPACES);
const category = fc.constantFrom(...CATEGORIES);

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({ kind: fc.constant('join' as const), member, category, at: dayIn(0, 300) }),
    weight: 4,
  },
  { arbitrary: fc.record({ kind: fc.constant('leave' as const), member, at: dayIn(900, 1800) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('recategorise' as const), member, category }), weight: 1 },
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

/** Batches of commands: each batch is written, then an instant is noted before the next. */
const history = fc.array(fc.array(command, { minLength: 2, maxLength: 10 }), { minLength: 1, maxLength: 5 });

function request(ptceId: string, c: Command, eventIds: readonly string[]) {
  const p = `/v1/ptces/${ptceId}`;
  switch (c.kind) {
    case 'join':
      return {
        method: 'POST' as const,
        url: `${p}/members`,
        payload: { organisationId: c.member, name: c.member, category: c.category, occurredAt: c.at },
      };
    case 'leave':
      return {
        method: 'POST' as const,
        url: `${p}/members/${c.member}/departure`,
        payload: { occurredAt: c.at },
      };
    case 'recategorise':
      return {
        method: 'PATCH' as const,
        url: `${p}/members/${c.member}`,
        payload: { category: c.category, reason: 'correction' },
      };
    case 'space':
      return {
        method: 'POST' as const,
        url: `${p}/spaces`,
        payload: { spaceId: c.space, kind: 'strategic', name: c.space, occurredAt: c.at },
      };
    case 'enrol':
      return {
        method: 'POST' as const,
        url: `${p}/spaces/${c.space}/members`,
        payload: { organisationId: c.member, occurredAt: c.at },
      };
    case 'meeting':
      return {
        method: 'POST' as const,
        url: `${p}/spaces/${c.space}/meetings`,
        payload: { attendees: c.attendees, occurredAt: c.at },
      };
    case 'entity':
      return {
        method: 'POST' as const,
        url: `${p}/legal-entity`,
        payload: { name: 'SCIC', legalForm: 'scic', occurredAt: c.at },
      };
    case 'associate':
      return {
        method: 'POST' as const,
        url: `${p}/legal-entity/associates`,
        payload: { organisationId: c.member, college: 'fondateurs', occurredAt: c.at },
      };
    case 'retract': {
      if (eventIds.length === 0) return null;
      const eventId = eventIds[c.pick % eventIds.length];
      return { method: 'POST' as const, url: `${p}/retractions`, payload: { eventId, reason: 'retracted' } };
    }
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Writes the batches; returns the instants noted after each batch and the positions written. */
async function write(ptceId: string, batches: readonly (readonly Command[])[]) {
  const eventIds: string[] = [];
  const instants: number[] = [];
  const register = await clientFor(server, secretary).send('POST', '/v1/ptces', {
    ptceId,
    name: `PTCE ${ptceId}`,
    territory: { name: 'Pays test' },
    pilot: { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise' },
    occurredAt: '2019-01-01',
  });
  expect(register.status, JSON.stringify(register.body)).toBe(201);
  instants.push(Date.now());
  for (const batch of batches) {
    await sleep(2);
    for (const c of batch) {
      const call = request(ptceId, c, eventIds);
      if (call === null) continue;
      const res = await server.app.inject({ ...call, headers: { authorization: secretary } });
      if (res.statusCode < 300) eventIds.push(...((res.json() as { eventIds?: string[] }).eventIds ?? []));
    }
    await sleep(2);
    instants.push(Date.now());
  }
  return instants;
}

/** The naive replay: every event of the three streams, in position order, cut by knownAt. */
async function naive(ptceId: string, knownAt: number) {
  const all: EventEnvelope[] = [];
  for (const family of ['membership', 'workgroups', 'decisions']) {
    all.push(...(await server.app.eventStore.readStream(`${family}-${ptceId}`)));
  }
  all.sort((a, b) => (a.position < b.position ? -1 : a.position > b.position ? 1 : 0));
  const prefix: EventEnvelope[] = [];
  for (const event of all) {
    if (Date.parse(event.recordedAt) > knownAt) break;
    prefix.push(event);
  }
  const ledger = foldLedger(prefix);
  return { ledger, position: prefix.at(-1)?.position ?? null };
}

/** The JSON an answer would have once serialised. */
const json = (value: unknown) => JSON.parse(JSON.stringify(value));

async function get(url: string) {
  const res = await server.app.inject({ method: 'GET', url, headers: { authorization: secretary } });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

const pick = (value: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(keys.map((k) => [k, value[k]]));

beforeAll(async () => {
  server = await startTestServer();
  secretary = await server.bearer('secretary', ['*']);
});
afterAll(() => server.close());

describe('the as-of engine against a naive replay', () => {
  test('stage, timeline, legal transition and eligibility at a random asOf and knownAt', async () => {
    await fc.assert(
      fc.asyncProperty(
        history,
        fc.array(fc.tuple(day, fc.nat(), fc.integer({ min: -3, max: 3 })), { minLength: 2, maxLength: 4 }),
        async (batches, queries) => {
          const ptceId = `prop-${++counter}`;
          const instants = await write(ptceId, batches);
          for (const [asOf, which, shift] of queries) {
            const knownAtMs = instants[which % instants.length]! + shift;
            const knownAt = new Date(knownAtMs).toISOString();
            const { ledger, position } = await naive(ptceId, knownAtMs);
            const q = `asOf=${asOf}&knownAt=${encodeURIComponent(knownAt)}`;
            const stage = await get(`/v1/ptces/${ptceId}/stage?${q}`);
            if (position === null) {
              expect(stage.status).toBe(404);
              continue;
            }
            expect(stage.status, JSON.stringify(stage.body)).toBe(200);
            const expected = stageAt(ledger, asOf, DEFAULT_STAGE_RULES);
            expect(stage.body).toEqual(
              json({
                ...pick(expected as unknown as Record<string, unknown>, [
                  'stage',
                  'label',
                  'since',
                  'stalled',
                  'criteria',
                  'core',
                  'periphery',
                  'outside',
                  'rulesVersion',
                ]),
                asOf,
                knownAt,
                position,
                warnings: warnings(ledger, asOf),
              }),
            );

            const timeline = await get(
              `/v1/ptces/${ptceId}/stage/timeline?knownAt=${encodeURIComponent(knownAt)}`,
            );
            expect(timeline.body).toMatchObject(
              json({ entries: stageTimeline(ledger, DEFAULT_STAGE_RULES), knownAt, position }),
            );
            expect(timeline.body.entries).toEqual(json(stageTimeline(ledger, DEFAULT_STAGE_RULES)));

            const state = ledgerAt(ledger, asOf);
            const legal = await get(`/v1/ptces/${ptceId}/legal-transition?${q}`);
            const transition = legalTransitionOf(state, asOf);
            expect(legal.body).toMatchObject(
              json({
                phase: transition.phase,
                legalForm: transition.legalForm,
                associates: transition.associates,
                steps: transition.steps,
                asOf,
                knownAt,
                position,
                warnings: state.warnings,
              }),
            );
            expect(legal.body.entity === null).toBe(transition.entity === null);

            const eligibility = await get(`/v1/ptces/${ptceId}/eligibility?${q}`);
            const expectedEligibility = eligibilityOf(state, asOf);
            expect(eligibility.body).toEqual(
              json({
                eligible: expectedEligibility.eligible,
                conditions: expectedEligibility.conditions,
                asOf,
                knownAt,
                position,
                warnings: state.warnings,
              }),
            );
          }
        },
      ),
      { numRuns: 30 },
    );
  }, 60_000);

  test('an answer at (asOf, atPosition) never changes as more events arrive', async () => {
    await fc.assert(
      fc.asyncProperty(history, history, day, async (first, then, asOf) => {
        const ptceId = `prop-${++counter}`;
        await write(ptceId, first);
        const urls = (position: string) =>
          ['stage', 'legal-transition', 'eligibility', 'participation']
            .map((route) => `/v1/ptces/${ptceId}/${route}?asOf=${asOf}&atPosition=${position}`)
            .concat(`/v1/ptces/${ptceId}/stage/timeline?atPosition=${position}`);
        const now = await get(`/v1/ptces/${ptceId}/stage?asOf=${asOf}`);
        const position = now.body.position as string;
        const before = await Promise.all(urls(position).map(get));
        const ids: string[] = [];
        for (const batch of then) {
          for (const c of batch) {
            const call = request(ptceId, c, ids);
            if (call === null) continue;
            const res = await server.app.inject({ ...call, headers: { authorization: secretary } });
            if (res.statusCode < 300) ids.push(...((res.json() as { eventIds?: string[] }).eventIds ?? []));
          }
          const after = await Promise.all(urls(position).map(get));
          expect(after).toEqual(before);
        }
      }),
      { numRuns: 20 },
    );
  }, 60_000);
});
