import {
  type Answer,
  type Client,
  castEventsToJsonb,
  clientFor,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

// Runs on SQLite and, in the 'postgres' project, on PostgreSQL.
let server: TestServer;
let secretary: Client;
const P = 'wg-hostile';

beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['*']));
  await seedPtce(secretary, P);
  const steps: [string, unknown][] = [
    [`/v1/ptces/${P}/spaces`, { spaceId: 'gt', kind: 'operational', name: 'GT', occurredAt: '2020-03-01' }],
    ...['asso', 'cc', 'garage'].map((organisationId): [string, unknown] => [
      `/v1/ptces/${P}/spaces/gt/members`,
      { organisationId, occurredAt: '2020-03-01' },
    ]),
    [
      `/v1/ptces/${P}/spaces/gt/meetings`,
      { meetingId: 'm1', attendees: ['asso', 'cc'], occurredAt: '2020-04-01' },
    ],
    [
      `/v1/ptces/${P}/activities`,
      { activityId: 'a1', name: 'A', carriers: ['asso'], occurredAt: '2020-04-01' },
    ],
  ];
  for (const [url, body] of steps) {
    const answer = await secretary.send('POST', url, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  }
});
afterAll(() => server.close());

const stream = () => server.app.eventStore.readStream(`workgroups-${P}`);

function expectFieldError(answer: Answer, path: string, message: RegExp): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(400);
  expect(String(answer.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ code: 'validation_failed' });
  expect(answer.body.errors).toEqual([{ path, message: expect.stringMatching(message), in: 'body' }]);
}

describe('malformed input (hostile-test defect 8a)', () => {
  test('attendees listed 500 times over are a 400 naming attendees', async () => {
    const before = (await stream()).length;
    const answer = await secretary.send('POST', `/v1/ptces/${P}/spaces/gt/meetings`, {
      meetingId: 'm2',
      attendees: Array(500).fill('asso'),
      occurredAt: '2020-05-01',
    });
    expectFieldError(answer, 'attendees', /lists asso more than once/);
    expect(await stream()).toHaveLength(before);
  });

  test('a correction listing an attendee twice is a 400 naming attendees', async () => {
    const answer = await secretary.send('PATCH', `/v1/ptces/${P}/spaces/gt/meetings/m1`, {
      attendees: ['asso', 'cc', 'asso'],
      reason: 'feuille relue',
    });
    expectFieldError(answer, 'attendees', /lists asso more than once/);
  });

  test('carriers listed twice are a 400 naming carriers', async () => {
    const answer = await secretary.send('POST', `/v1/ptces/${P}/activities`, {
      activityId: 'a2',
      name: 'A2',
      carriers: ['asso', 'cc', 'cc'],
      occurredAt: '2020-05-01',
    });
    expectFieldError(answer, 'carriers', /lists cc more than once/);
  });

  test('distinct lists still pass', async () => {
    const answer = await secretary.send('POST', `/v1/ptces/${P}/spaces/gt/meetings`, {
      meetingId: 'm3',
      attendees: ['asso', 'cc', 'garage'],
      occurredAt: '2020-05-01',
    });
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  });
});

describe('malformed input (hostile-test defect 4)', () => {
  test.each([
    [
      'a bidi override in a space name',
      'spaces',
      { spaceId: 's2', kind: 'operational', name: 'GT \u202e2', occurredAt: '2020-05-01' },
      'name',
    ],
    [
      'a zero-width space in a theme',
      'spaces',
      {
        spaceId: 's2',
        kind: 'operational',
        name: 'GT',
        themes: ['ok', 'mo\u200bbility'],
        occurredAt: '2020-05-01',
      },
      'themes.1',
    ],
    [
      'a NUL in an activity name',
      'activities',
      { activityId: 'a3', name: 'A\u0000', carriers: ['asso'], occurredAt: '2020-05-01' },
      'name',
    ],
    [
      'a lone surrogate in an activity theme',
      'activities',
      { activityId: 'a3', name: 'A', theme: '\ud83c', carriers: ['asso'], occurredAt: '2020-05-01' },
      'theme',
    ],
    [
      'a NUL in the minutes URI',
      'spaces/gt/meetings',
      {
        meetingId: 'm4',
        attendees: ['asso'],
        minutes: { sha256: 'a'.repeat(64), uri: 'https://x.test/a\u0000b' },
        occurredAt: '2020-05-01',
      },
      'minutes.uri',
    ],
    [
      'a NUL in an ending reason',
      'activities/a1/end',
      { reason: 'fin\u0000', occurredAt: '2020-06-01' },
      'reason',
    ],
  ])('%s is a 400 naming the field', async (_what, route, body, path) => {
    const before = (await stream()).length;
    expectFieldError(
      await secretary.send('POST', `/v1/ptces/${P}/${route}`, body),
      path,
      /must not contain U\+/,
    );
    expect(await stream()).toHaveLength(before);
    if (server.config.EVENT_STORE_URL.startsWith('postgres')) {
      expect(await castEventsToJsonb(server.config.EVENT_STORE_URL)).toBeGreaterThan(0);
    }
  });
});
