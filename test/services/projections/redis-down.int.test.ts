import net from 'node:net';
import { type Answer, clientFor, seedPtce, startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

/*
 * Redis holds the read models, never the record: with Redis down, every read is computed from the
 * event store and answers as it would have, and /health/ready says the service is degraded.
 */

/** A port nothing listens on: one the system gave and took back. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

let server: TestServer;
let secretary: string;

const get = async (url: string): Promise<Answer> => {
  const res = await server.app.inject({ method: 'GET', url, headers: { authorization: secretary } });
  return { status: res.statusCode, body: res.body ? res.json() : {}, headers: res.headers };
};

beforeAll(async () => {
  server = await startTestServer({ REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
  secretary = await server.bearer('secretary', ['rd']);
  await seedPtce(clientFor(server, secretary), 'rd');
});
afterAll(() => server.close());

describe('read models in a Redis that is down', () => {
  test('every read route answers, computed from the store, current and at an asOf', async () => {
    for (const route of ['stage', 'stage/timeline', 'participation', 'legal-transition', 'eligibility', '']) {
      const target = `/v1/ptces/rd${route ? `/${route}` : ''}`;
      const current = await get(target);
      expect(current.status, `${route}: ${JSON.stringify(current.body)}`).toBe(200);
      expect(current.body.position).toMatch(/\S/);
      if (route !== 'stage/timeline') expect((await get(`${target}?asOf=2020-03-01`)).status).toBe(200);
    }
    const list = await get('/v1/ptces');
    expect(list.status).toBe(200);
    expect(list.body).toEqual([expect.objectContaining({ ptceId: 'rd', stage: 'divided_groups' })]);
  });

  test('/health/ready is 503 degraded, naming redis; the event store is up', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({ status: 'degraded', down: ['redis'] });
  });
});
