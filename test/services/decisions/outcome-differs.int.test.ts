import { type Client, clientFor, seedPtce, startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let server: TestServer;
let secretary: Client;
let token: string;

/** A read through the projections routes, as the secretary. */
async function get(url: string) {
  const res = await server.app.inject({ method: 'GET', url, headers: { authorization: token } });
  return { status: res.statusCode, body: res.json() };
}

beforeAll(async () => {
  server = await startTestServer();
  token = await server.bearer('secretary', ['*']);
  secretary = clientFor(server, token);
});
afterAll(() => server.close());

async function post(url: string, body: unknown): Promise<void> {
  const answer = await secretary.send('POST', url, body);
  expect(answer.status, `${url} ${JSON.stringify(answer.body)}`).toBe(201);
}

describe('outcome_differs: a backdated enrolment that breaks a decision quorum', () => {
  test('is recorded (201), the decision keeps its outcome, and the stage read warns', async () => {
    const ptceId = 'od-1';
    await seedPtce(secretary, ptceId);
    // The copil (quorum one half, simple majority) with asso and cc: both present, both for.
    await post(`/v1/ptces/${ptceId}/spaces`, {
      spaceId: 'copil',
      kind: 'strategic',
      name: 'Copil',
      rules: { quorum: 0.5, majority: 'simple' },
      occurredAt: '2020-03-01',
    });
    for (const organisationId of ['asso', 'cc'])
      await post(`/v1/ptces/${ptceId}/spaces/copil/members`, { organisationId, occurredAt: '2020-03-01' });
    const decided = await secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, {
      decisionId: 'd1',
      spaceId: 'copil',
      present: ['asso', 'cc'],
      title: 'Priorités',
      kind: 'priority',
      vote: { for: 2, against: 0, abstain: 0 },
      occurredAt: '2020-06-01',
    });
    expect(decided.status, JSON.stringify(decided.body)).toBe(201);
    const before = await get(`/v1/ptces/${ptceId}/stage`);
    expect(before.status).toBe(200);
    expect(before.body.warnings).toEqual([]);

    // Learnt later: garage, x and y sat in the copil from 2020-04-01. Five enrolled at the
    // decision's date, two present: no quorum on the history as now known.
    await post(`/v1/ptces/${ptceId}/members`, {
      organisationId: 'x',
      name: 'X',
      category: 'enterprise',
      occurredAt: '2020-02-01',
    });
    await post(`/v1/ptces/${ptceId}/members`, {
      organisationId: 'y',
      name: 'Y',
      category: 'enterprise',
      occurredAt: '2020-02-01',
    });
    for (const organisationId of ['garage', 'x', 'y'])
      await post(`/v1/ptces/${ptceId}/spaces/copil/members`, { organisationId, occurredAt: '2020-04-01' });

    const decisions = await server.app.eventStore.readStream(`decisions-${ptceId}`);
    expect(decisions.map((e) => [e.type, (e.data as { outcome?: string }).outcome])).toEqual([
      ['DecisionRecorded', 'adopted'],
    ]);
    const after = await get(`/v1/ptces/${ptceId}/stage`);
    expect(after.status).toBe(200);
    expect(after.body.warnings).toEqual([
      expect.objectContaining({
        eventId: decisions[0]?.eventId,
        type: 'DecisionRecorded',
        code: 'outcome_differs',
        details: expect.objectContaining({
          decisionId: 'd1',
          stored: 'adopted',
          derived: 'no_quorum',
          present: 2,
          enrolledCount: 5,
        }),
      }),
    ]);
    // Read at a date before the decision, nothing to say about it.
    const earlier = await get(`/v1/ptces/${ptceId}/stage?asOf=2020-05-01`);
    expect(earlier.body.warnings).toEqual([]);
  });
});
