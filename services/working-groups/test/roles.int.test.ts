import {
  type Client,
  clientFor,
  expectProblem,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const ptceId = 'wg-roles';
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
  await seedPtce(clientFor(server, await server.bearer('secretary', [ptceId])), ptceId);
});
afterAll(() => server.close());

const p = `/v1/ptces/${ptceId}`;

/** Every write route, in an order where each admin call succeeds on the state the previous ones left. */
const routes: [method: 'POST' | 'PATCH', url: string, body: Record<string, unknown>, status: number][] = [
  ['POST', `${p}/spaces`, { spaceId: 'gt', kind: 'operational', name: 'GT', occurredAt: '2020-03-01' }, 201],
  ['POST', `${p}/spaces/gt/members`, { organisationId: 'cc', occurredAt: '2020-03-01' }, 201],
  ['POST', `${p}/spaces/gt/meetings`, { meetingId: 'm1', attendees: ['cc'], occurredAt: '2020-04-01' }, 201],
  ['PATCH', `${p}/spaces/gt/meetings/m1`, { heldAt: '2020-04-02', reason: 'date du compte rendu' }, 200],
  ['POST', `${p}/spaces/gt/members/cc/withdrawal`, { occurredAt: '2020-05-01' }, 200],
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

describe.each(routes)('%s %s', (method, url, body, status) => {
  test('no token 401, auditor 403, funder 403, secretary out of scope 403, nothing recorded; admin succeeds', async () => {
    const before = await server.app.eventStore.readStream(`workgroups-${ptceId}`);
    const none = await callers.none.send(method, url, body);
    expectProblem(none, 401, 'unauthorized');
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expectProblem(await callers.auditor.send(method, url, body), 403, 'role_forbidden');
    expectProblem(await callers.funder.send(method, url, body), 403, 'role_forbidden');
    expectProblem(await callers.outOfScope.send(method, url, body), 403, 'out_of_scope');
    expect(await server.app.eventStore.readStream(`workgroups-${ptceId}`)).toHaveLength(before.length);

    const admin = await callers.admin.send(method, url, body);
    expect(admin.status, JSON.stringify(admin.body)).toBe(status);
    expect(admin.body.eventIds).toEqual([expect.any(String)]);
    expect(await server.app.eventStore.readStream(`workgroups-${ptceId}`)).toHaveLength(before.length + 1);
  });
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
