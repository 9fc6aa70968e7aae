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
