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

/** A fresh PTCE (asso, cc, garage) with space `gt` opened on 2020-03-01 and all three enrolled. */
async function seededSpace(): Promise<string> {
  counter += 1;
  const ptceId = `rules-${counter}`;
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
  ];
  for (const [url, body] of steps) {
    const answer = await secretary.send('POST', url, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  }
  return ptceId;
}

/** 2 present of 3, 1 for and 1 abstaining: adopted by simple majority, rejected by unanimity. */
const decision = (decisionId: string, occurredAt: string) => ({
  decisionId,
  spaceId: 'gt',
  title: 'Décision',
  kind: 'general',
  present: ['asso', 'cc'],
  vote: { for: 1, against: 0, abstain: 1 },
  occurredAt,
});

beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['*']));
});
afterAll(() => server.close());

describe('POST /v1/ptces/{ptceId}/spaces/{spaceId}/rules', () => {
  test('records a dated change: 201 naming the space, SpaceRulesChanged stored', async () => {
    const ptceId = await seededSpace();
    const answer = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/rules`, {
      quorum: 0.6,
      majority: 'unanimity',
      occurredAt: '2021-01-01',
      reason: 'nouveau règlement intérieur',
      evidence: { source: 'procès-verbal' },
    });
    expectWritten(answer, 201, { ptceId, spaceId: 'gt' });
    const events = await server.app.eventStore.readStream(`workgroups-${ptceId}`);
    expect(events.at(-1)).toMatchObject({
      type: 'SpaceRulesChanged',
      schemaVersion: 1,
      occurredAt: '2021-01-01',
      data: {
        spaceId: 'gt',
        rules: { quorum: 0.6, majority: 'unanimity' },
        reason: 'nouveau règlement intérieur',
      },
      evidence: { source: 'procès-verbal' },
    });
  });

  test('decisions derive their outcome from the rules in force at their date', async () => {
    const ptceId = await seededSpace();
    const changed = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/rules`, {
      quorum: 0.6,
      majority: 'unanimity',
      occurredAt: '2021-01-01',
    });
    expect(changed.status, JSON.stringify(changed.body)).toBe(201);
    const before = await secretary.send(
      'POST',
      `/v1/ptces/${ptceId}/decisions`,
      decision('d-before', '2020-12-31'),
    );
    const after = await secretary.send(
      'POST',
      `/v1/ptces/${ptceId}/decisions`,
      decision('d-after', '2021-02-01'),
    );
    expect(before.status, JSON.stringify(before.body)).toBe(201);
    expect(after.status, JSON.stringify(after.body)).toBe(201);
    const recorded = await server.app.eventStore.readStream(`decisions-${ptceId}`);
    expect(recorded.map((e) => [e.data.decisionId, e.data.rules, e.data.outcome])).toEqual([
      ['d-before', { quorum: 0.5, majority: 'simple' }, 'adopted'],
      ['d-after', { quorum: 0.6, majority: 'unanimity' }, 'rejected'],
    ]);
  });

  test('422 contradicts_history for a change backdated before a decision taken under other rules', async () => {
    const ptceId = await seededSpace();
    const taken = await secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, decision('d1', '2021-02-01'));
    expect(taken.status, JSON.stringify(taken.body)).toBe(201);
    const answer = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/rules`, {
      quorum: 0.6,
      majority: 'unanimity',
      occurredAt: '2021-01-01',
    });
    expectProblem(answer, 422, 'contradicts_history');
    expect(answer.body.conflicts).toEqual([
      expect.objectContaining({ type: 'DecisionRecorded', code: 'decision_rules_not_in_force' }),
    ]);
  });

  test('404 for an unknown space, 422 before it opened, 400 for a quorum above 1 or an unknown majority', async () => {
    const ptceId = await seededSpace();
    const url = `/v1/ptces/${ptceId}/spaces`;
    const body = { quorum: 0.5, majority: 'simple', occurredAt: '2021-01-01' };
    expectProblem(await secretary.send('POST', `${url}/nowhere/rules`, body), 404, 'space_not_found');
    expectProblem(
      await secretary.send('POST', `${url}/gt/rules`, { ...body, occurredAt: '2020-02-01' }),
      422,
      'before_space_opened',
    );
    expectProblem(
      await secretary.send('POST', `${url}/gt/rules`, { ...body, quorum: 1.5 }),
      400,
      'validation_failed',
    );
    expectProblem(
      await secretary.send('POST', `${url}/gt/rules`, { ...body, majority: 'most' }),
      400,
      'validation_failed',
    );
    expectProblem(
      await secretary.send('POST', `${url}/gt/rules`, { majority: 'simple', occurredAt: '2021-01-01' }),
      400,
      'validation_failed',
    );
  });
});

describe('a member leaving the PTCE while enrolled', () => {
  test('the departure is accepted and ends the seat: a meeting it attends later is refused', async () => {
    const ptceId = await seededSpace();
    const leave = await secretary.send('POST', `/v1/ptces/${ptceId}/members/garage/departure`, {
      occurredAt: '2021-01-01',
    });
    expect(leave.status, JSON.stringify(leave.body)).toBeLessThan(300);
    const meeting = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/meetings`, {
      meetingId: 'm1',
      attendees: ['asso', 'garage'],
      occurredAt: '2021-02-01',
    });
    expectProblem(meeting, 422, 'attendees_not_enrolled');
    const withdrawal = await secretary.send(
      'POST',
      `/v1/ptces/${ptceId}/spaces/gt/members/garage/withdrawal`,
      {
        occurredAt: '2021-02-01',
      },
    );
    expectProblem(withdrawal, 409, 'not_enrolled');
  });

  test('a departure backdated before a meeting the member attended is refused, naming the meeting', async () => {
    const ptceId = await seededSpace();
    const meeting = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/meetings`, {
      meetingId: 'm1',
      attendees: ['asso', 'garage'],
      occurredAt: '2021-02-01',
    });
    expect(meeting.status, JSON.stringify(meeting.body)).toBe(201);
    const leave = await secretary.send('POST', `/v1/ptces/${ptceId}/members/garage/departure`, {
      occurredAt: '2021-01-01',
    });
    expectProblem(leave, 422, 'contradicts_history');
    expect(leave.body.conflicts).toEqual([
      expect.objectContaining({ type: 'MeetingHeld', code: 'attendees_not_enrolled' }),
    ]);
  });

  test('a member who rejoins is not enrolled again until enrolled anew', async () => {
    const ptceId = await seededSpace();
    const calls: [string, unknown][] = [
      [`/v1/ptces/${ptceId}/members/garage/departure`, { occurredAt: '2021-01-01' }],
      [
        `/v1/ptces/${ptceId}/members`,
        { organisationId: 'garage', name: 'Garage', category: 'enterprise', occurredAt: '2021-06-01' },
      ],
    ];
    for (const [url, body] of calls) {
      const answer = await secretary.send('POST', url, body);
      expect(answer.status, JSON.stringify(answer.body)).toBeLessThan(300);
    }
    const meeting = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/meetings`, {
      attendees: ['garage'],
      occurredAt: '2021-07-01',
    });
    expectProblem(meeting, 422, 'attendees_not_enrolled');
    const enrol = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/members`, {
      organisationId: 'garage',
      occurredAt: '2021-07-01',
    });
    expectWritten(enrol, 201, { ptceId, spaceId: 'gt', organisationId: 'garage' });
  });
});
