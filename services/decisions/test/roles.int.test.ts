import {
  type Client,
  clientFor,
  expectProblem,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const ptceId = 'dc-roles';
let server: TestServer;
let callers: Record<'none' | 'auditor' | 'funder' | 'outOfScope' | 'admin', Client>;

beforeAll(async () => {
  server = await startTestServer();
  callers = {
    none: clientFor(server, ''),
    auditor: clientFor(server, await server.bearer('auditor', [ptceId])),
    funder: clientFor(server, await server.bearer('funder', [ptceId])),
    outOfScope: clientFor(server, await server.bearer('secretary', ['another-ptce'])),
    admin: clientFor(server, await server.bearer('admin', ['another-ptce'])),
  };
  const secretary = clientFor(server, await server.bearer('secretary', [ptceId]));
  await seedPtce(secretary, ptceId);
  const steps: [string, unknown][] = [
    [
      `/v1/ptces/${ptceId}/spaces`,
      { spaceId: 'copil', kind: 'strategic', name: 'COPIL', occurredAt: '2020-03-01' },
    ],
    [`/v1/ptces/${ptceId}/spaces/copil/members`, { organisationId: 'asso', occurredAt: '2020-03-01' }],
    [`/v1/ptces/${ptceId}/spaces/copil/members`, { organisationId: 'cc', occurredAt: '2020-03-01' }],
  ];
  for (const [url, body] of steps) expect((await secretary.send('POST', url, body)).status).toBe(201);
});
afterAll(() => server.close());

const p = `/v1/ptces/${ptceId}/decisions`;

/** Every write route, in an order where each admin call succeeds on the state the previous ones left. */
const routes: [method: 'POST' | 'PATCH', url: string, body: Record<string, unknown>, status: number][] = [
  [
    'POST',
    p,
    {
      decisionId: 'd1',
      spaceId: 'copil',
      present: ['asso', 'cc'],
      title: 'Priorités',
      kind: 'priority',
      vote: { for: 2, against: 0, abstain: 0 },
      occurredAt: '2020-04-01',
    },
    201,
  ],
  ['PATCH', `${p}/d1`, { title: 'Priorités 2020', reason: 'intitulé exact' }, 200],
  ['POST', `${p}/d1/annulment`, { reason: 'vice de forme', occurredAt: '2020-05-01' }, 200],
];

describe.each(routes)('%s %s', (method, url, body, status) => {
  test('no token 401, auditor 403, funder 403, secretary out of scope 403, nothing recorded; admin succeeds', async () => {
    const before = await server.app.eventStore.readStream(`decisions-${ptceId}`);
    const none = await callers.none.send(method, url, body);
    expectProblem(none, 401, 'unauthorized');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expectProblem(await callers.auditor.send(method, url, body), 403, 'role_forbidden');
    expectProblem(await callers.funder.send(method, url, body), 403, 'role_forbidden');
    expectProblem(await callers.outOfScope.send(method, url, body), 403, 'out_of_scope');
    expect(await server.app.eventStore.readStream(`decisions-${ptceId}`)).toHaveLength(before.length);

    const admin = await callers.admin.send(method, url, body);
    expect(admin.status, JSON.stringify(admin.body)).toBe(status);
    expect(admin.body.eventIds).toEqual([expect.any(String)]);
    expect(await server.app.eventStore.readStream(`decisions-${ptceId}`)).toHaveLength(before.length + 1);
  });
});

test('the OpenAPI document lists every decisions route, with outcome and rules in the success answers', async () => {
  const res = await server.app.inject({ url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  const paths = res.json().paths;
  const record = paths['/v1/ptces/{ptceId}/decisions']?.post;
  const correct = paths['/v1/ptces/{ptceId}/decisions/{decisionId}']?.patch;
  const annul = paths['/v1/ptces/{ptceId}/decisions/{decisionId}/annulment']?.post;
  expect(record?.responses?.['201']).toBeDefined();
  expect(correct?.responses?.['200']).toBeDefined();
  expect(annul?.responses?.['200']).toBeDefined();
  expect(JSON.stringify(record.responses['201'])).toContain('outcome');
  expect(JSON.stringify(correct.responses['200'])).toContain('rules');
});
