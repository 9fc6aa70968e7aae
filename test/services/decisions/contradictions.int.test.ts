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
 * A fresh PTCE whose space `gt` (opened 2020-03-01, asso, cc and garage enrolled) meets on
 * 2020-04-01 with asso and cc (meeting `m1`), where decision `d1` is taken.
 */
async function decided(): Promise<string> {
  counter += 1;
  const ptceId = `dc-contra-${counter}`;
  await seedPtce(secretary, ptceId);
  const steps: [string, unknown][] = [
    [
      `/v1/ptces/${ptceId}/spaces`,
      { spaceId: 'gt', kind: 'operational', name: 'GT', occurredAt: '2020-03-01' },
    ],
    ...['asso', 'cc', 'garage'].map((organisationId): [string, unknown] => [
      `/v1/ptces/${ptceId}/spaces/gt/members`,
      { organisationId, occurredAt: '2020-03-01' },
    ]),
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
  for (const [url, body] of steps) {
    const answer = await secretary.send('POST', url, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  }
  return ptceId;
}

beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['*']));
});
afterAll(() => server.close());

describe('corrections and retractions never create a contradiction (hostile-test defect 3)', () => {
  test('PATCH of a decision moved after its annulment: 422 naming the annulment', async () => {
    const ptceId = await decided();
    const annulled = await secretary.send('POST', `/v1/ptces/${ptceId}/decisions/d1/annulment`, {
      reason: 'vote irrégulier',
      occurredAt: '2020-05-01',
    });
    expect(annulled.status, JSON.stringify(annulled.body)).toBe(200);
    const refused = await secretary.send('PATCH', `/v1/ptces/${ptceId}/decisions/d1`, {
      decidedAt: '2020-06-01',
      reason: 'date du procès-verbal',
    });
    expectProblem(refused, 422, 'contradicts_history');
    expect(refused.body.conflicts).toEqual([
      expect.objectContaining({
        eventId: (annulled.body.eventIds as string[])[0],
        type: 'DecisionAnnulled',
        code: 'decision_not_found',
      }),
    ]);
  });

  test('PATCH of a decision counting present an organisation absent from its meeting: 422; within the attendees: 200', async () => {
    const ptceId = await decided();
    const url = `/v1/ptces/${ptceId}/decisions/d1`;
    const refused = await secretary.send('PATCH', url, {
      present: ['asso', 'cc', 'garage'],
      vote: { for: 3, against: 0, abstain: 0 },
      reason: 'r',
    });
    expectProblem(refused, 422, 'contradicts_history');
    expect(refused.body.conflicts).toEqual([
      expect.objectContaining({
        code: 'present_not_attendees',
        details: { meetingId: 'm1', offenders: ['garage'] },
      }),
    ]);
    expectWritten(
      await secretary.send('PATCH', url, {
        present: ['asso'],
        vote: { for: 1, against: 0, abstain: 0 },
        reason: 'r',
      }),
      200,
      { decisionId: 'd1' },
    );
  });
});
