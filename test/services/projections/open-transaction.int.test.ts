import { type Answer, clientFor, seedPtce, startTestServer, type TestServer } from '@ptce/testing';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

/*
 * On PostgreSQL the log's head, as a subscriber may safely use it, stops short of a transaction
 * still open: a write that committed after it does not move the head. A current read must see
 * that write all the same (a secretary reads right after writing), so the read side never takes
 * an unmoved head as "nothing written" there.
 */
const onPostgres = process.env.PTCE_TEST_STORE === 'postgres';

describe.skipIf(!onPostgres)('a write committed while an older transaction is open (PostgreSQL)', () => {
  let server: TestServer;
  let secretary: string;
  const get = async (url: string): Promise<Answer> => {
    const res = await server.app.inject({ method: 'GET', url, headers: { authorization: secretary } });
    return { status: res.statusCode, body: res.body ? res.json() : {}, headers: res.headers };
  };

  beforeAll(async () => {
    server = await startTestServer();
    secretary = await server.bearer('secretary', ['ot']);
    await seedPtce(clientFor(server, secretary), 'ot');
  });
  afterAll(() => server.close());

  test('is in the next current read, answered from a model or computed', async () => {
    const before = await get('/v1/ptces/ot/stage');
    expect(before.status).toBe(200);
    const other = new pg.Client({ connectionString: server.config.EVENT_STORE_URL });
    await other.connect();
    try {
      // An open transaction with a transaction id: the safe head cannot pass it.
      await other.query('BEGIN');
      await other.query('SELECT pg_current_xact_id()');
      const written = await clientFor(server, secretary).send('POST', '/v1/ptces/ot/members', {
        organisationId: 'tardif',
        name: 'Tardif',
        category: 'enterprise',
        occurredAt: '2020-03-01',
      });
      expect(written.status, JSON.stringify(written.body)).toBe(201);
      for (const route of ['stage', '']) {
        const after = await get(`/v1/ptces/ot${route ? `/${route}` : ''}`);
        expect(after.status).toBe(200);
        expect(after.body.position).toBe(written.body.position);
      }
    } finally {
      await other.query('ROLLBACK');
      await other.end();
    }
  });
});
