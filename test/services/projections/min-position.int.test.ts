import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type EventStore, openStores, type Stores } from '@ptce/event-store';
import { type App, loadConfig, loadJwtKeys, mintToken } from '@ptce/platform';
import { buildStandalone } from '@ptce/standalone';
import {
  type Answer,
  clientFor,
  expectProblem,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

/*
 * minPosition: read-your-writes. A read given the position a write answered contains that write,
 * or is a 409 position_not_reached naming both positions — never an answer without it.
 */

let server: TestServer;
let secretary: string;

async function get(url: string, authorization = secretary): Promise<Answer> {
  const res = await server.app.inject({ method: 'GET', url, headers: { authorization } });
  return { status: res.statusCode, body: res.body ? res.json() : {}, headers: res.headers };
}

const ROUTES = ['stage', 'stage/timeline', 'legal-transition', 'eligibility', 'participation', ''];
const url = (route: string, query: string) => `/v1/ptces/mp${route ? `/${route}` : ''}?${query}`;

/** Beyond any position a store gives: positions compare as strings, '~' after every digit. */
const UNREACHED = '~';

let seeded: string;
let written: string;
let beforeWrite: string;

beforeAll(async () => {
  server = await startTestServer();
  secretary = await server.bearer('secretary', ['mp']);
  const writer = clientFor(server, secretary);
  await seedPtce(writer, 'mp');
  seeded = (await get('/v1/ptces/mp/stage')).body.position as string;
  await new Promise((resolve) => setTimeout(resolve, 5));
  beforeWrite = new Date().toISOString();
  await new Promise((resolve) => setTimeout(resolve, 5));
  const answer = await writer.send('POST', '/v1/ptces/mp/members', {
    organisationId: 'late',
    name: 'Late',
    category: 'enterprise',
    occurredAt: '2020-03-01',
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  written = answer.body.position as string;
});
afterAll(() => server.close());

describe('minPosition', () => {
  test('a current read given the position of a write contains it, on every read route', async () => {
    for (const route of ROUTES) {
      const answer = await get(url(route, `minPosition=${written}`));
      expect(answer.status, `${route}: ${JSON.stringify(answer.body)}`).toBe(200);
      expect(answer.body.position).toBe(written);
    }
    const list = await get(`/v1/ptces?minPosition=${written}`);
    expect(list.status, JSON.stringify(list.body)).toBe(200);
    expect(list.body).toEqual([expect.objectContaining({ ptceId: 'mp' })]);
  });

  test('a position already passed is reached too: the answer is the current one', async () => {
    const answer = await get(url('stage', `minPosition=${seeded}`));
    expect(answer.status).toBe(200);
    expect(answer.body.position).toBe(written);
  });

  test('a cut ending before it (knownAt or atPosition) is 409 position_not_reached naming both', async () => {
    for (const route of ROUTES) {
      for (const cut of [`knownAt=${encodeURIComponent(beforeWrite)}`, `atPosition=${seeded}`]) {
        const answer = await get(url(route, `${cut}&minPosition=${written}`));
        expectProblem(answer, 409, 'position_not_reached');
        expect(answer.body).toMatchObject({ minPosition: written, position: seeded });
        expect(answer.headers['retry-after']).toBeUndefined();
      }
    }
    // The same cut reaching it answers.
    const at = await get(url('stage', `atPosition=${written}&minPosition=${written}`));
    expect(at.status).toBe(200);
  });

  test('a store not caught up with it (another replica) is a 409 with Retry-After, not a silent answer', async () => {
    for (const route of ROUTES) {
      const answer = await get(url(route, `minPosition=${UNREACHED}`));
      expectProblem(answer, 409, 'position_not_reached');
      expect(answer.body).toMatchObject({ minPosition: UNREACHED, position: written });
      expect(answer.headers['retry-after']).toBe('1');
    }
    const list = await get(`/v1/ptces?minPosition=${UNREACHED}`);
    expectProblem(list, 409, 'position_not_reached');
    expect(list.body).toMatchObject({ minPosition: UNREACHED, position: written });
  });

  test('validated like atPosition: anything but a short printable string is a 400 naming it', async () => {
    for (const value of ['a%20b', 'x'.repeat(101), '%C3%A9']) {
      for (const target of [
        ...ROUTES.map((route) => url(route, `minPosition=${value}`)),
        `/v1/ptces?minPosition=${value}`,
      ]) {
        const answer = await get(target);
        expectProblem(answer, 400, 'validation_failed');
        expect(answer.body.errors).toEqual([
          expect.objectContaining({ path: 'minPosition', in: 'querystring' }),
        ]);
      }
    }
  });

  test('scope and role come first: a caller out of scope learns nothing of positions', async () => {
    const elsewhere = await server.bearer('secretary', ['another']);
    expectProblem(await get(url('stage', `minPosition=${UNREACHED}`), elsewhere), 403, 'out_of_scope');
  });
});

/**
 * A replica behind its primary: while `hiddenReads` is above zero, each stream read counts one
 * down and leaves out the events after `horizon`.
 */
function replica(inner: EventStore) {
  const lag = { hiddenReads: 0, horizon: '' };
  const wrapped: EventStore = Object.create(inner);
  // Every read goes through readStream below, the fold's leaner one included.
  wrapped.readStreamForFold = undefined;
  wrapped.readStream = async (stream, options) => {
    const events = await inner.readStream(stream, options);
    if (lag.hiddenReads <= 0) return events;
    lag.hiddenReads--;
    return events.filter((event) => event.position <= lag.horizon);
  };
  // The replica's head is where its streams stand; asking for it is a read like the others.
  wrapped.headPosition = async () => {
    const head = await inner.headPosition();
    if (lag.hiddenReads <= 0) return head;
    lag.hiddenReads--;
    return head !== null && head > lag.horizon ? lag.horizon : head;
  };
  return { wrapped, lag };
}

describe('minPosition on a store behind the write', () => {
  let app: App;
  let stores: Stores;
  let dir: string;
  let lag: { hiddenReads: number; horizon: string };
  let auth: string;
  let horizon: string;
  let joined: string;

  const read = async (target: string): Promise<Answer> => {
    const res = await app.inject({ method: 'GET', url: target, headers: { authorization: auth } });
    return { status: res.statusCode, body: res.json(), headers: res.headers };
  };

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-replica-'));
    // No projector: its subscription would see past the replica's horizon, and this is the
    // computed read's behaviour on a store behind.
    const config = loadConfig({
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      EVENT_STORE_URL: 'sqlite::memory:',
      PROJECTOR: 'off',
    });
    stores = await openStores('sqlite::memory:');
    const store = replica(stores.events);
    lag = store.lag;
    app = await buildStandalone(config, { stores: { ...stores, events: store.wrapped }, logger: false });
    await app.ready();
    const keys = loadJwtKeys(config);
    if (!keys.privateKey) throw new Error('no private key');
    auth = `Bearer ${await mintToken({ sub: 's', role: 'secretary', ptces: ['*'], ttl: '1h' }, keys.privateKey, config)}`;
    const writer = {
      send: async (method: 'POST' | 'PATCH', target: string, payload: unknown) => {
        const res = await app.inject({
          method,
          url: target,
          payload: payload as object,
          headers: { authorization: auth },
        });
        return { status: res.statusCode, body: res.json(), headers: res.headers };
      },
    };
    await seedPtce(writer, 'rp');
    horizon = (await read('/v1/ptces/rp/stage')).body.position as string;
    const answer = await writer.send('POST', '/v1/ptces/rp/members', {
      organisationId: 'late',
      name: 'Late',
      category: 'enterprise',
      occurredAt: '2020-03-01',
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    joined = answer.body.position as string;
  });
  afterAll(async () => {
    await app.close();
    await stores.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('without minPosition the replica answers what it has; with it, never without the write', async () => {
    Object.assign(lag, { hiddenReads: Number.POSITIVE_INFINITY, horizon });
    try {
      expect((await read('/v1/ptces/rp/stage')).body.position).toBe(horizon);
      const refused = await read(`/v1/ptces/rp/stage?minPosition=${joined}`);
      expectProblem(refused, 409, 'position_not_reached');
      expect(refused.body).toMatchObject({ minPosition: joined, position: horizon });
      expect(refused.headers['retry-after']).toBe('1');
    } finally {
      lag.hiddenReads = 0;
    }
  });

  test('a replica catching up during the read: the second read is answered', async () => {
    // The first read of the log stays behind: its head has not moved since the PTCE was last read.
    Object.assign(lag, { hiddenReads: 1, horizon });
    try {
      const answer = await read(`/v1/ptces/rp/stage?minPosition=${joined}`);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      expect(answer.body.position).toBe(joined);
      expect(lag.hiddenReads).toBe(0);
    } finally {
      lag.hiddenReads = 0;
    }
  });
});
