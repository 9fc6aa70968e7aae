import {
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
 * A fresh PTCE whose space `gt` (opened 2020-03-01, asso and cc enrolled) meets on 2020-04-01
 * with both (meeting `m1`), where decision `d1` is taken. Returns the decision's event id.
 */
async function meetingWithDecision(): Promise<{ ptceId: string; decisionEventId: string }> {
  counter += 1;
  const ptceId = `wg-contra-${counter}`;
  await seedPtce(secretary, ptceId);
  const steps: [string, unknown][] = [
    [
      `/v1/ptces/${ptceId}/spaces`,
      { spaceId: 'gt', kind: 'operational', name: 'GT', occurredAt: '2020-03-01' },
    ],
    [`/v1/ptces/${ptceId}/spaces/gt/members`, { organisationId: 'asso', occurredAt: '2020-03-01' }],
    [`/v1/ptces/${ptceId}/spaces/gt/members`, { organisationId: 'cc', occurredAt: '2020-03-01' }],
    [
      `/v1/ptces/${ptceId}/spaces/gt/meetings`,
      { meetingId: 'm1', attendees: ['asso', 'cc'], occurredAt: '2020-04-01' },
    ],
    [
      `/v1/ptces/${ptceId}/decisions`,
      {
        decisionId: 'd1',
        spaceId: 'gt',
        meetingId: 'm1',
        title: 'Feuille de route',
        kind: 'general',
        vote: { for: 2, against: 0, abstain: 0 },
        occurredAt: '2020-04-01',
      },
    ],
  ];
  let decisionEventId = '';
  for (const [url, body] of steps) {
    const answer = await secretary.send('POST', url, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
    decisionEventId = (answer.body.eventIds as string[])[0] as string;
  }
  return { ptceId, decisionEventId };
}

beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['*']));
});
afterAll(() => server.close());

describe('corrections and retractions never create a contradiction (hostile-test defect 3)', () => {
  test('PATCH of a meeting moved after the decision taken at it: 422 naming the decision', async () => {
    const { ptceId, decisionEventId } = await meetingWithDecision();
    const refused = await secretary.send('PATCH', `/v1/ptces/${ptceId}/spaces/gt/meetings/m1`, {
      heldAt: '2020-04-10',
      reason: 'date du compte rendu',
    });
    expectProblem(refused, 422, 'contradicts_history');
    expect(refused.body.conflicts).toEqual([
      expect.objectContaining({
        eventId: decisionEventId,
        type: 'DecisionRecorded',
        code: 'meeting_not_held',
      }),
    ]);
  });

  test('PATCH of a meeting’s attendees striking one the decision counts present: 422 naming the decision', async () => {
    const { ptceId, decisionEventId } = await meetingWithDecision();
    const refused = await secretary.send('PATCH', `/v1/ptces/${ptceId}/spaces/gt/meetings/m1`, {
      attendees: ['asso'],
      reason: "feuille d'émargement",
    });
    expectProblem(refused, 422, 'contradicts_history');
    expect(refused.body.conflicts).toEqual([
      expect.objectContaining({
        eventId: decisionEventId,
        code: 'present_not_attendees',
        details: { meetingId: 'm1', offenders: ['cc'] },
      }),
    ]);
  });

  test('PATCH of a meeting moved earlier, still before its decision: accepted', async () => {
    const { ptceId } = await meetingWithDecision();
    expectWritten(
      await secretary.send('PATCH', `/v1/ptces/${ptceId}/spaces/gt/meetings/m1`, {
        heldAt: '2020-03-20',
        reason: 'date du compte rendu',
      }),
      200,
      { meetingId: 'm1' },
    );
  });
});
