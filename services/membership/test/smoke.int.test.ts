import { startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

test('register then join', async () => {
  const auth = await server.bearer('secretary', ['val-coop']);
  const reg = await server.app.inject({
    method: 'POST',
    url: '/v1/ptces',
    headers: { authorization: auth },
    payload: {
      ptceId: 'val-coop',
      name: 'Val',
      territory: { name: 'Pays' },
      pilot: { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise' },
      occurredAt: '2017-03-01',
    },
  });
  console.log(reg.statusCode, reg.headers.etag, reg.body);
  const join = await server.app.inject({
    method: 'POST',
    url: '/v1/ptces/val-coop/members',
    headers: { authorization: auth },
    payload: { organisationId: 'cc', name: 'CC', category: 'local_authority', occurredAt: '2017-06-15' },
  });
  console.log(join.statusCode, join.body);
  const again = await server.app.inject({
    method: 'POST',
    url: '/v1/ptces/val-coop/members',
    headers: { authorization: auth },
    payload: { organisationId: 'cc', name: 'CC', category: 'local_authority', occurredAt: '2017-07-15' },
  });
  console.log(again.statusCode, again.body);
  expect(reg.statusCode).toBe(201);
});
