/**
 * The audit routes on the store the project runs (a SQLite file, or PostgreSQL), tampered with
 * behind the server's back the way an intruder with access to the database would.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type Client,
  clientFor,
  createTempDatabase,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { tamper as tamperWith } from './tamper.ts';

const onPostgres = process.env.PTCE_TEST_STORE === 'postgres';

let server: TestServer;
let dir: string;
let url: string;
let drop = async () => {};
let secretary: Client;
let auditor: string;

const tamper = (sql: string, params: unknown[]) => tamperWith(url, sql, params);

const name = `Alex Auditable ${randomUUID()}`;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-audit-'));
  if (onPostgres) {
    const database = await createTempDatabase('ptce_audit');
    url = database.url;
    drop = () => database.drop();
  } else {
    url = `sqlite:${path.join(dir, 'audit.db')}`;
  }
  server = await startTestServer({ EVENT_STORE_URL: url });
  secretary = clientFor(server, await server.bearer('secretary'));
  auditor = await server.bearer('auditor', ['audited']);
  await seedPtce(secretary, 'audited');
  const steps: [string, unknown][] = [
    [
      '/v1/ptces/audited/members',
      { organisationId: 'citoyen', name, category: 'natural_person', occurredAt: '2020-03-01' },
    ],
    [
      '/v1/ptces/audited/spaces',
      { spaceId: 'copil', kind: 'strategic', name: 'Copil', occurredAt: '2020-03-02' },
    ],
    ['/v1/ptces/audited/spaces/copil/members', { organisationId: 'asso', occurredAt: '2020-03-03' }],
    [
      '/v1/ptces/audited/members',
      { organisationId: 'lycee', name: 'Lycée', category: 'training_body', occurredAt: '2020-01-15' },
    ],
  ];
  for (const [route, body] of steps) {
    const answer = await secretary.send('POST', route, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  }
});

afterAll(async () => {
  await server.close();
  await drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const get = (route: string, authorization = auditor, headers: Record<string, string> = {}) =>
  server.app.inject({ url: route, headers: { authorization, ...headers } });

describe('GET /v1/audit/ptces/{ptceId}/events', () => {
  test('pages through the whole log in order, each event as stored, a natural person opened beside', async () => {
    const seen: Record<string, unknown>[] = [];
    let after: string | null = null;
    for (let page = 0; page < 20; page++) {
      const res = await get(`/v1/audit/ptces/audited/events?limit=2${after ? `&after=${after}` : ''}`);
      expect(res.statusCode, res.body).toBe(200);
      const body = res.json() as { events: Record<string, unknown>[]; next: string | null };
      seen.push(...body.events);
      after = body.next;
      if (after === null) break;
    }
    expect(seen).toHaveLength(7);
    const positions = seen.map((e) => String(e.position));
    expect([...positions].sort()).toEqual(positions);
    expect(new Set(seen.map((e) => e.stream))).toEqual(new Set(['membership-audited', 'workgroups-audited']));
    const person = seen.find(
      (e) => e.type === 'MemberJoined' && (e.data as { organisationId: string }).organisationId === 'citoyen',
    );
    expect((person?.data as { name: unknown } | undefined)?.name).toMatchObject({ sealed: 'A256GCM' });
    expect(person?.personal).toEqual({ name });
    expect(Object.keys(seen[0]!).sort()).toEqual(
      [
        'data',
        'eventId',
        'evidence',
        'hash',
        'occurredAt',
        'position',
        'prevHash',
        'recordedAt',
        'recordedBy',
        'revision',
        'schemaVersion',
        'stream',
        'type',
      ]
        .filter((k) => k !== 'evidence' || 'evidence' in seen[0]!)
        .sort(),
    );
  });

  test('streams the whole history as NDJSON, the same events as the pages', async () => {
    const res = await get('/v1/audit/ptces/audited/events', auditor, { accept: 'application/x-ndjson' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/x-ndjson/);
    const lines = res.body
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { eventId: string });
    const paged = (await get('/v1/audit/ptces/audited/events?limit=1000')).json() as {
      events: { eventId: string }[];
    };
    expect(lines.map((e) => e.eventId)).toEqual(paged.events.map((e) => e.eventId));
  });

  test('filters by valid time (until) and by transaction time (knownAt)', async () => {
    const all = (
      (await get('/v1/audit/ptces/audited/events?limit=1000')).json() as {
        events: { occurredAt: string; recordedAt: string }[];
      }
    ).events;
    const until = (
      (await get('/v1/audit/ptces/audited/events?until=2020-01-31')).json() as {
        events: { occurredAt: string }[];
      }
    ).events;
    expect(until.map((e) => e.occurredAt)).toEqual(['2020-01-01', '2020-01-15']);
    const knownAt = all[2]!.recordedAt;
    const known = (
      (await get(`/v1/audit/ptces/audited/events?knownAt=${encodeURIComponent(knownAt)}`)).json() as {
        events: unknown[];
      }
    ).events;
    expect(known.length).toBeGreaterThanOrEqual(3);
    expect(known.length).toBeLessThan(all.length);
  });

  test('for auditors and admins within their scope only; bad queries named', async () => {
    expect((await get('/v1/audit/ptces/audited/events', '')).statusCode).toBe(401);
    expect((await get('/v1/audit/ptces/audited/events', await server.bearer('secretary'))).statusCode).toBe(
      403,
    );
    expect(
      (await get('/v1/audit/ptces/audited/events', await server.bearer('funder', ['audited']))).statusCode,
    ).toBe(403);
    expect(
      (await get('/v1/audit/ptces/audited/events', await server.bearer('auditor', ['other']))).statusCode,
    ).toBe(403);
    expect((await get('/v1/audit/ptces/audited/events', await server.bearer('admin'))).statusCode).toBe(200);
    expect((await get('/v1/audit/ptces/nowhere/events', await server.bearer('auditor'))).statusCode).toBe(
      404,
    );
    const tooMany = await get('/v1/audit/ptces/audited/events?limit=1001');
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.body).toContain('limit');
  });
});

describe('GET /v1/audit/ptces/{ptceId}/replay', () => {
  test('answers what the read routes answer, together, with the events applied', async () => {
    const replay = (await get('/v1/audit/ptces/audited/replay?asOf=2020-06-01')).json() as Record<
      string,
      unknown
    >;
    const stage = (await get('/v1/ptces/audited/stage?asOf=2020-06-01')).json() as Record<string, unknown>;
    const { knownAt: _k, position: _p, ...stageContent } = stage;
    expect(replay.stage).toEqual(stageContent);
    expect(replay).toMatchObject({ ptceId: 'audited', asOf: '2020-06-01', eventsApplied: 7 });
    expect(replay.lastPosition).toBe(replay.position);
    const members = (replay.state as { members: { organisationId: string; name?: string }[] }).members;
    expect(members.find((m) => m.organisationId === 'citoyen')?.name).toBe(name);
    const bad = await get('/v1/audit/ptces/audited/replay?knownAt=2020-01-01&atPosition=1');
    expect(bad.statusCode).toBe(400);
    expect(bad.body).toContain('atPosition');
  });
});

describe('GET /v1/audit/ptces/{ptceId}/diff', () => {
  test('names each change between two valid times with the event recording it', async () => {
    const res = await get('/v1/audit/ptces/audited/diff?from=2020-01-10&to=2020-03-02');
    expect(res.statusCode, res.body).toBe(200);
    const diff = res.json() as {
      members: { joined: { organisationId: string; at: string; eventId: string }[]; left: unknown[] };
      enrolments: { enrolled: unknown[] };
      stages: { stage: string }[];
    };
    expect(diff.members.joined.map((m) => [m.organisationId, m.at])).toEqual([
      ['lycee', '2020-01-15'],
      ['cc', '2020-02-01'],
      ['garage', '2020-02-01'],
      ['citoyen', '2020-03-01'],
    ]);
    expect(diff.members.joined.every((m) => typeof m.eventId === 'string' && m.eventId.length > 0)).toBe(
      true,
    );
    expect(diff.members.left).toEqual([]);
    // Enrolled on 2020-03-03: after `to`.
    expect(diff.enrolments.enrolled).toEqual([]);
    const later = (
      await get('/v1/audit/ptces/audited/diff?from=2020-03-02&to=2020-12-31')
    ).json() as typeof diff;
    expect(later.members.joined).toEqual([]);
    expect(later.enrolments.enrolled).toMatchObject([
      { spaceId: 'copil', organisationId: 'asso', at: '2020-03-03' },
    ]);
    expect((await get('/v1/audit/ptces/audited/diff?from=2020-01-10')).statusCode).toBe(400);
  });
});

// Last: it alters the database.
describe('GET /v1/audit/ptces/{ptceId}/verify', () => {
  test('holds on the log as written, then names the first event altered behind the server', async () => {
    const ok = (await get('/v1/audit/ptces/audited/verify')).json() as Record<string, unknown>;
    expect(ok).toMatchObject({ ok: true, events: 7 });
    expect((ok.heads as { stream: string }[]).map((h) => h.stream)).toEqual([
      'membership-audited',
      'workgroups-audited',
    ]);

    const events = (
      (await get('/v1/audit/ptces/audited/events?limit=1000')).json() as {
        events: { eventId: string; stream: string; revision: number; data: Record<string, unknown> }[];
      }
    ).events;
    const target = events.find((e) => e.stream === 'membership-audited' && e.revision === 2)!;
    await tamper('UPDATE events SET data = ? WHERE event_id = ?', [
      JSON.stringify({ ...target.data, category: 'local_authority' }),
      target.eventId,
    ]);
    const broken = (await get('/v1/audit/ptces/audited/verify')).json() as {
      ok: boolean;
      brokenAt: Record<string, unknown>;
    };
    expect(broken.ok).toBe(false);
    expect(broken.brokenAt).toMatchObject({ eventId: target.eventId, reason: 'hash' });
    expect(broken.brokenAt.expected).not.toEqual(broken.brokenAt.actual);

    // A row deleted before it: the gap in the revisions is found first.
    const earlier = events.find((e) => e.stream === 'membership-audited' && e.revision === 1)!;
    await tamper('DELETE FROM events WHERE event_id = ?', [earlier.eventId]);
    const gap = (await get('/v1/audit/ptces/audited/verify')).json() as {
      ok: boolean;
      brokenAt: Record<string, unknown>;
    };
    expect(gap.brokenAt).toMatchObject({
      eventId: target.eventId,
      reason: 'revision',
      expected: '1',
      actual: '2',
    });
  });
});
