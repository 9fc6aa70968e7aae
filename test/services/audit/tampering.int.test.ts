/**
 * The store tampered with behind the server's back, as an intruder with access to the database
 * (SQLite file or PostgreSQL) would, each way on a PTCE of its own: what the hash chains show by
 * themselves, and what only a signed checkpoint taken before can show.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type EventStore, openEventStore } from '@ptce/event-store';
import { computeEventHash, type EventEnvelope } from '@ptce/events';
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
let admin: string;
let auditor: string;
/** The same database, opened apart from the server, to read envelopes as stored. */
let outside: EventStore;

const tamper = (sql: string, params: unknown[]) => tamperWith(url, sql, params);

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-tamper-'));
  if (onPostgres) {
    const database = await createTempDatabase('ptce_tamper');
    url = database.url;
    drop = () => database.drop();
  } else {
    url = `sqlite:${path.join(dir, 'tamper.db')}`;
  }
  server = await startTestServer({ EVENT_STORE_URL: url });
  secretary = clientFor(server, await server.bearer('secretary'));
  admin = await server.bearer('admin');
  auditor = await server.bearer('auditor');
  outside = await openEventStore(url);
});

afterAll(async () => {
  await outside?.close();
  await server?.close();
  await drop();
  fs.rmSync(dir, { recursive: true, force: true });
});

const get = (route: string, authorization = auditor) =>
  server.app.inject({ url: route, headers: { authorization } });

interface Verified {
  ok: boolean;
  events: number;
  heads: { stream: string; revision: number; hash: string }[];
  brokenAt?: { eventId: string; position: string; expected: string; actual: string; reason: string };
  checkpoint: { takenAt: string; keyId: string; heads: unknown[] } | null;
  checkpoints: number;
  checkpointMismatch?: {
    reason: string;
    stream?: string;
    revision?: number;
    expected?: string;
    actual?: string;
    detail: string;
  };
}

const verify = async (ptceId: string) => {
  const answer = await get(`/v1/audit/ptces/${ptceId}/verify`);
  expect(answer.statusCode, answer.body).toBe(200);
  return answer.json() as Verified;
};

/** A PTCE with five events in its membership stream, checkpointed by a funder's snapshot. */
async function checkpointedPtce(ptceId: string): Promise<EventEnvelope[]> {
  await seedPtce(secretary, ptceId);
  for (const [organisationId, category] of [
    ['lycee', 'training_body'],
    ['labo', 'research_higher_education'],
  ]) {
    const answer = await secretary.send('POST', `/v1/ptces/${ptceId}/members`, {
      organisationId,
      name: organisationId,
      category,
      occurredAt: '2020-03-01',
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  }
  const snapshot = await get(`/v1/snapshots/${ptceId}`, admin);
  expect(snapshot.statusCode, snapshot.body).toBe(200);
  const before = await verify(ptceId);
  expect(before).toMatchObject({ ok: true, checkpoints: 1 });
  expect(before.checkpoint?.heads).toEqual(before.heads);
  const events = await outside.readStream(`membership-${ptceId}`);
  expect(events.length).toBeGreaterThanOrEqual(5);
  return events;
}

describe('verify, the store tampered with', () => {
  test("an event's data: the chain names that event", async () => {
    const events = await checkpointedPtce('tamper-data');
    const target = events[2]!;
    await tamper('UPDATE events SET data = ? WHERE event_id = ?', [
      JSON.stringify({ ...target.data, category: 'local_authority' }),
      target.eventId,
    ]);
    const result = await verify('tamper-data');
    expect(result.ok).toBe(false);
    expect(result.brokenAt).toMatchObject({ eventId: target.eventId, reason: 'hash' });
  });

  test("an event's occurredAt: the chain names that event", async () => {
    const events = await checkpointedPtce('tamper-occurred');
    const target = events[3]!;
    await tamper('UPDATE events SET occurred_at = ? WHERE event_id = ?', ['2019-12-31', target.eventId]);
    const result = await verify('tamper-occurred');
    expect(result.ok).toBe(false);
    expect(result.brokenAt).toMatchObject({ eventId: target.eventId, reason: 'hash' });
  });

  test('a row in the middle deleted: the gap is named at the event after it', async () => {
    const events = await checkpointedPtce('tamper-gap');
    await tamper('DELETE FROM events WHERE event_id = ?', [events[2]!.eventId]);
    const result = await verify('tamper-gap');
    expect(result.ok).toBe(false);
    expect(result.brokenAt).toMatchObject({
      eventId: events[3]!.eventId,
      reason: 'revision',
      expected: '2',
      actual: '3',
    });
  });

  test("two rows' contents swapped: the first of them is named", async () => {
    const events = await checkpointedPtce('tamper-swap');
    const [first, second] = [events[1]!, events[2]!];
    const put = (row: EventEnvelope, from: EventEnvelope) =>
      tamper(
        'UPDATE events SET type = ?, data = ?, occurred_at = ?, prev_hash = ?, hash = ? WHERE event_id = ?',
        [from.type, JSON.stringify(from.data), from.occurredAt, from.prevHash, from.hash, row.eventId],
      );
    await put(first, second);
    await put(second, first);
    const result = await verify('tamper-swap');
    expect(result.ok).toBe(false);
    expect(result.brokenAt).toMatchObject({ eventId: first.eventId, reason: 'prevHash' });
  });

  test('the last row deleted: the chains hold, the checkpoint names the missing event', async () => {
    const events = await checkpointedPtce('tamper-last');
    const last = events.at(-1)!;
    await tamper('DELETE FROM events WHERE event_id = ?', [last.eventId]);
    const result = await verify('tamper-last');
    expect(result.brokenAt).toBeUndefined();
    expect(result.ok).toBe(false);
    expect(result.checkpointMismatch).toMatchObject({
      reason: 'missing',
      stream: 'membership-tamper-last',
      revision: last.revision,
      expected: last.hash,
      actual: 'missing',
    });
  });

  test('a stream rewritten whole, its hashes recomputed: the chains hold, the checkpoint does not', async () => {
    const events = await checkpointedPtce('tamper-rewrite');
    let prevHash = events[1]!.hash;
    for (const event of events.slice(2)) {
      const data = event.revision === 2 ? { ...event.data, category: 'local_authority' } : event.data;
      const rewritten = { ...event, data, prevHash };
      const hash = computeEventHash(rewritten);
      await tamper('UPDATE events SET data = ?, prev_hash = ?, hash = ? WHERE event_id = ?', [
        JSON.stringify(data),
        prevHash,
        hash,
        event.eventId,
      ]);
      prevHash = hash;
    }
    const result = await verify('tamper-rewrite');
    expect(result.brokenAt).toBeUndefined();
    expect(result.ok).toBe(false);
    const last = events.at(-1)!;
    expect(result.checkpointMismatch).toMatchObject({
      reason: 'rewritten',
      stream: 'membership-tamper-rewrite',
      revision: last.revision,
      expected: last.hash,
      actual: prevHash,
    });
  });

  test('the registration deleted: verify still answers for the PTCE, naming the gap', async () => {
    const events = await checkpointedPtce('tamper-registration');
    await tamper('DELETE FROM events WHERE event_id = ?', [events[0]!.eventId]);
    const result = await verify('tamper-registration');
    expect(result.ok).toBe(false);
    expect(result.brokenAt).toMatchObject({ eventId: events[1]!.eventId, reason: 'revision' });
  });

  test('every event of the PTCE deleted: the checkpoints still name what is missing', async () => {
    await checkpointedPtce('tamper-everything');
    await tamper('DELETE FROM events WHERE ptce_id = ?', ['tamper-everything']);
    const result = await verify('tamper-everything');
    expect(result).toMatchObject({ ok: false, events: 0, checkpointMismatch: { reason: 'missing' } });
  });

  test('data rewritten with line breaks, same meaning: chains hold and the NDJSON export keeps a line per event', async () => {
    const events = await checkpointedPtce('tamper-layout');
    const target = events[2]!;
    await tamper('UPDATE events SET data = ? WHERE event_id = ?', [
      JSON.stringify(target.data, null, 2),
      target.eventId,
    ]);
    expect((await verify('tamper-layout')).ok).toBe(true);
    const streamed = await server.app.inject({
      url: '/v1/audit/ptces/tamper-layout/events',
      headers: { authorization: auditor, accept: 'application/x-ndjson' },
    });
    const lines = streamed.body.trimEnd().split('\n');
    const paged = (await get('/v1/audit/ptces/tamper-layout/events?limit=1000')).json() as {
      events: unknown[];
    };
    expect(lines.map((line) => JSON.parse(line))).toEqual(paged.events);
  });

  test('a checkpoint altered to agree with a rewrite: its signature gives it away', async () => {
    await checkpointedPtce('tamper-checkpoint');
    await tamper(
      'UPDATE chain_checkpoints SET body = replace(body, \'"revision":\', \'"revision":1\') WHERE ptce_id = ?',
      ['tamper-checkpoint'],
    );
    const result = await verify('tamper-checkpoint');
    expect(result.ok).toBe(false);
    expect(result.checkpointMismatch).toMatchObject({ reason: 'signature' });
    expect(result.checkpointMismatch?.detail).toMatch(/does not verify/);
  });
});

describe('GET /v1/audit/ptces/{ptceId}/checkpoints', () => {
  test('one per snapshot of new heads, each verifying with a published key; for auditors only', async () => {
    await seedPtce(secretary, 'checkpointed');
    expect((await get('/v1/audit/ptces/checkpointed/checkpoints')).json()).toEqual({ checkpoints: [] });
    await get('/v1/snapshots/checkpointed', admin);
    await get('/v1/snapshots/checkpointed', admin);
    const one = (await get('/v1/audit/ptces/checkpointed/checkpoints')).json() as {
      checkpoints: { checkpoint: { kind: string; heads: { stream: string; revision: number }[] } }[];
    };
    expect(one.checkpoints).toHaveLength(1);
    expect(one.checkpoints[0]!.checkpoint.kind).toBe('ptce-chain-checkpoint/v1');

    const more = await secretary.send('POST', '/v1/ptces/checkpointed/members', {
      organisationId: 'ferme',
      name: 'Ferme',
      category: 'enterprise',
      occurredAt: '2021-01-01',
    });
    expect(more.status).toBe(201);
    await get('/v1/snapshots/checkpointed', admin);
    const two = (await get('/v1/audit/ptces/checkpointed/checkpoints')).json() as typeof one;
    expect(two.checkpoints).toHaveLength(2);
    expect(two.checkpoints[1]!.checkpoint.heads[0]!.revision).toBe(
      two.checkpoints[0]!.checkpoint.heads[0]!.revision + 1,
    );

    // A snapshot of an earlier cut attests nothing new: no reader can add checkpoints at will.
    const earlier = (await get('/v1/audit/ptces/checkpointed/events?limit=2')).json() as {
      events: { position: string }[];
    };
    await get(`/v1/snapshots/checkpointed?atPosition=${earlier.events[1]!.position}`, admin);
    expect(
      ((await get('/v1/audit/ptces/checkpointed/checkpoints')).json() as typeof one).checkpoints,
    ).toHaveLength(2);

    const funder = await server.bearer('funder', ['checkpointed']);
    expect((await get('/v1/audit/ptces/checkpointed/checkpoints', funder)).statusCode).toBe(403);
    expect((await get('/v1/audit/ptces/nowhere/checkpoints')).statusCode).toBe(404);
  });
});
