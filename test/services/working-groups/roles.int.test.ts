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

const ptceId = 'wg-roles';
let server: TestServer;
let callers: Record<WriteCaller, Client>;

beforeAll(async () => {
  server = await startTestServer();
  callers = await writeCallers(server, ptceId);
  await seedPtce(clientFor(server, await server.bearer('secretary', [ptceId])), ptceId);
});
afterAll(() => server.close());

const p = `/v1/ptces/${ptceId}`;

/** Every write route, in an order where each admin call succeeds on the state the previous ones left. */
const routes: WriteRoute[] = [
  ['POST', `${p}/spaces`, { spaceId: 'gt', kind: 'operational', name: 'GT', occurredAt: '2020-03-01' }, 201],
  ['POST', `${p}/spaces/gt/members`, { organisationId: 'cc', occurredAt: '2020-03-01' }, 201],
  ['POST', `${p}/spaces/gt/meetings`, { meetingId: 'm1', attendees: ['cc'], occurredAt: '2020-04-01' }, 201],
  ['PATCH', `${p}/spaces/gt/meetings/m1`, { heldAt: '2020-04-02', reason: 'date du compte rendu' }, 200],
  ['POST', `${p}/spaces/gt/members/cc/withdrawal`, { occurredAt: '2020-05-01' }, 200],
  ['POST', `${p}/spaces/gt/rules`, { quorum: 0.6, majority: 'absolute', occurredAt: '2020-05-15' }, 201],
  [
    'POST',
    `${p}/activities`,
    { activityId: 'a1', name: 'A', carriers: ['asso'], occurredAt: '2020-05-01' },
    201,
  ],
  ['POST', `${p}/activities/a1/carriers`, { organisationId: 'cc', occurredAt: '2020-05-02' }, 200],
  ['POST', `${p}/activities/a1/end`, { occurredAt: '2020-06-01' }, 200],
  ['POST', `${p}/spaces/gt/closure`, { occurredAt: '2020-06-01' }, 200],
];

describe.each(routes)('%s %s', (...route) => {
  test('no token 401, auditor 403, funder 403, secretary out of scope 403, nothing recorded; admin succeeds', () =>
    expectWritersOnly(server, callers, `workgroups-${ptceId}`, route));
});

test('the OpenAPI document lists every working-groups route with its body and problem answers', async () => {
  const res = await server.app.inject({ url: '/docs/json' });
  expect(res.statusCode).toBe(200);
  const paths = res.json().paths as Record<string, Record<string, { responses: Record<string, unknown> }>>;
  for (const [method, url] of routes.map(([m, u]) => [m.toLowerCase(), u] as const)) {
    const template = url
      .replace(`/v1/ptces/${ptceId}`, '/v1/ptces/{ptceId}')
      .replace('/spaces/gt', '/spaces/{spaceId}')
      .replace('/members/cc', '/members/{organisationId}')
      .replace('/meetings/m1', '/meetings/{meetingId}')
      .replace('/activities/a1', '/activities/{activityId}');
    const operation = paths[template]?.[method];
    expect(operation, `${method} ${template}`).toBeDefined();
    expect(Object.keys(operation?.responses ?? {})).toEqual(
      expect.arrayContaining(['400', '401', '403', '409', '412', '422']),
    );
  }
});
