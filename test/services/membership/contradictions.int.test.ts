import { randomUUID } from 'node:crypto';
import {
  type Answer,
  type Client,
  clientFor,
  expectProblem,
  expectWritten,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let server: TestServer;
let secretary: Client;
let counter = 0;

/**
 * A fresh PTCE (registered on 2020-01-01 by asso, cc and garage joining on 2020-02-01) whose space
 * `gt` opens on 2020-03-01 with asso, cc and garage enrolled, meets with asso and cc on
 * 2020-04-01, and whose activity `garage-solidaire` is carried by garage from 2020-04-15.
 */
async function freshPtce(): Promise<{ ptceId: string; ids: Record<string, string> }> {
  counter += 1;
  const ptceId = `contra-${counter}`;
  await seedPtce(secretary, ptceId);
  const ids: Record<string, string> = {};
  const steps: [string, string, unknown][] = [
    [
      'open',
      `/v1/ptces/${ptceId}/spaces`,
      { spaceId: 'gt', kind: 'operational', name: 'GT', occurredAt: '2020-03-01' },
    ],
    ...['asso', 'cc', 'garage'].map((organisationId): [string, string, unknown] => [
      `enrol-${organisationId}`,
      `/v1/ptces/${ptceId}/spaces/gt/members`,
      { organisationId, occurredAt: '2020-03-01' },
    ]),
    [
      'meeting',
      `/v1/ptces/${ptceId}/spaces/gt/meetings`,
      { meetingId: 'm1', attendees: ['asso', 'cc'], occurredAt: '2020-04-01' },
    ],
    [
      'activity',
      `/v1/ptces/${ptceId}/activities`,
      {
        activityId: 'garage-solidaire',
        name: 'Garage solidaire',
        carriers: ['garage'],
        occurredAt: '2020-04-15',
      },
    ],
  ];
  for (const [name, url, body] of steps) {
    const answer = await secretary.send('POST', url, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    ids[name] = (answer.body.eventIds as string[])[0] as string;
  }
  return { ptceId, ids };
}

const membership = (ptceId: string) => server.app.eventStore.readStream(`membership-${ptceId}`);

async function joinOf(ptceId: string, organisationId: string): Promise<string> {
  const event = (await membership(ptceId)).find(
    (e) =>
      e.type === 'MemberJoined' && (e.data as { organisationId: string }).organisationId === organisationId,
  );
  return event?.eventId as string;
}

/** The event ids a `contradicts_history` refusal names in its `conflicts`. */
function conflictIds(answer: Answer): string[] {
  expectProblem(answer, 422, 'contradicts_history');
  const conflicts = answer.body.conflicts as {
    eventId: string;
    type: string;
    code: string;
    message: string;
  }[];
  for (const c of conflicts) {
    expect(c.type.length).toBeGreaterThan(0);
    expect(c.code.length).toBeGreaterThan(0);
  }
  // The detail names the first few; `conflicts` lists them all.
  expect(answer.body.detail).toContain(conflicts[0]?.message);
  return conflicts.map((c) => c.eventId);
}

beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['*']));
});
afterAll(() => server.close());

describe('corrections and retractions never create a contradiction (hostile-test defect 3)', () => {
  test('PATCH of a join moved past the enrolment and the meeting that need it: 422 naming them, nothing recorded', async () => {
    const { ptceId, ids } = await freshPtce();
    const before = await membership(ptceId);
    const refused = await secretary.send('PATCH', `/v1/ptces/${ptceId}/members/cc`, {
      joinedAt: '2020-05-01',
      reason: 'date de la convention',
    });
    expect(conflictIds(refused)).toEqual([ids['enrol-cc'], ids.meeting]);
    expect(refused.body.detail).toContain('correct or retract those facts first');
    expect(await membership(ptceId)).toEqual(before);
  });

  test('PATCH of the founding pilot’s join: before the registration 422, after its own enrolment 422', async () => {
    const { ptceId, ids } = await freshPtce();
    const url = `/v1/ptces/${ptceId}/members/asso`;
    expectProblem(
      await secretary.send('PATCH', url, { joinedAt: '2019-06-01', reason: 'r' }),
      422,
      'before_registration',
    );
    const late = await secretary.send('PATCH', url, { joinedAt: '2020-03-15', reason: 'r' });
    expect(conflictIds(late)).toEqual(expect.arrayContaining([ids['enrol-asso'], ids.open]));
    // Moving the registration strands every fact before the new date: more than the detail names.
    expect(late.body.detail).toMatch(/; and \d+ more/);
    expect(await membership(ptceId)).toHaveLength(3);
  });

  test('POST of a retraction of a join an enrolment and an activity depend on: 422 naming both', async () => {
    const { ptceId, ids } = await freshPtce();
    const refused = await secretary.send('POST', `/v1/ptces/${ptceId}/retractions`, {
      eventId: await joinOf(ptceId, 'garage'),
      reason: 'saisi par erreur',
    });
    expect(conflictIds(refused)).toEqual([ids['enrol-garage'], ids.activity]);
  });

  test('a correction and a retraction that contradict nothing are accepted', async () => {
    const { ptceId } = await freshPtce();
    expectWritten(
      await secretary.send('PATCH', `/v1/ptces/${ptceId}/members/cc`, {
        joinedAt: '2020-02-20',
        reason: 'r',
      }),
      200,
      { organisationId: 'cc' },
    );
    const joined = await secretary.send('POST', `/v1/ptces/${ptceId}/members`, {
      organisationId: 'lycee',
      name: 'Lycée',
      category: 'training_body',
      occurredAt: '2020-06-01',
    });
    expect(joined.status).toBe(201);
    const eventId = (joined.body.eventIds as string[])[0];
    expectWritten(
      await secretary.send('POST', `/v1/ptces/${ptceId}/retractions`, { eventId, reason: 'r' }),
      200,
      {
        retractedEventId: eventId,
      },
    );
  });

  test('a history another tool made contradictory still takes writes that add no contradiction', async () => {
    const { ptceId, ids } = await freshPtce();
    const stream = `workgroups-${ptceId}`;
    const wrongEnrolment = randomUUID();
    await server.app.eventStore.append(
      stream,
      [
        {
          eventId: wrongEnrolment,
          type: 'MemberEnrolled',
          schemaVersion: 1,
          ptceId,
          occurredAt: '2020-03-01',
          recordedBy: 'import-tool',
          data: { spaceId: 'gt', organisationId: 'inconnu', role: 'member' },
        },
      ],
      { expectedRevision: (await server.app.eventStore.streamRevision(stream)) as number },
    );
    expectWritten(
      await secretary.send('PATCH', `/v1/ptces/${ptceId}/members/cc`, { name: 'CC du Val', reason: 'r' }),
      200,
      { organisationId: 'cc' },
    );
    // The contradiction already there is not a new one; a new one is still refused.
    expect(
      conflictIds(
        await secretary.send('PATCH', `/v1/ptces/${ptceId}/members/cc`, {
          joinedAt: '2020-05-01',
          reason: 'r',
        }),
      ),
    ).toEqual([ids['enrol-cc'], ids.meeting]);
    expectWritten(
      await secretary.send('POST', `/v1/ptces/${ptceId}/retractions`, {
        eventId: wrongEnrolment,
        reason: 'importé par erreur',
      }),
      200,
      { retractedEventId: wrongEnrolment },
    );
  });
});
