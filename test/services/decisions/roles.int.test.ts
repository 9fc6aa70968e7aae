import {
  type Client,
  clientFor,
  expectWritersOnly,
  seedPtce,
  startTestServer,
  type TestServer,
  type WriteCaller,
  type WriteRoute,
  writeCallers,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const ptceId = 'dc-roles';
let server: TestServer;
let callers: Record<WriteCaller, Client>;

beforeAll(async () => {
  server = await startTestServer();
  callers = await writeCallers(server, ptceId);
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
const routes: WriteRoute[] = [
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

describe.each(routes)('%s %s', (...route) => {
  test('no token 401, auditor 403, funder 403, secretary out of scope 403, nothing recorded; admin succeeds', () =>
    expectWritersOnly(server, callers, `decisions-${ptceId}`, route));
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
