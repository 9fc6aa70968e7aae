import {
  type Answer,
  type Client,
  clientFor,
  expectProblem,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

// Runs on SQLite and, in the 'postgres' project, on PostgreSQL.
let server: TestServer;
let secretary: Client;
let counter = 0;

/** A fresh PTCE whose council enrols asso, cc and garage on 2020-03-01 and meets (c1) on 2020-04-01. */
async function freshCouncil(): Promise<string> {
  counter += 1;
  const ptceId = `dc-hostile-${counter}`;
  await seedPtce(secretary, ptceId);
  const steps: [string, unknown][] = [
    [
      `/v1/ptces/${ptceId}/spaces`,
      { spaceId: 'conseil', kind: 'governance', name: 'Conseil', occurredAt: '2020-03-01' },
    ],
    ...['asso', 'cc', 'garage'].map((organisationId): [string, unknown] => [
      `/v1/ptces/${ptceId}/spaces/conseil/members`,
      { organisationId, occurredAt: '2020-03-01' },
    ]),
    [
      `/v1/ptces/${ptceId}/spaces/conseil/meetings`,
      { meetingId: 'c1', attendees: ['asso', 'cc', 'garage'], occurredAt: '2020-04-01' },
    ],
  ];
  for (const [url, body] of steps) {
    const answer = await secretary.send('POST', url, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  }
  return ptceId;
}

const decision = (extra: Record<string, unknown> = {}) => ({
  decisionId: 'd1',
  spaceId: 'conseil',
  meetingId: 'c1',
  title: 'Budget',
  kind: 'budget',
  vote: { for: 2, against: 1, abstain: 0 },
  occurredAt: '2020-04-01',
  ...extra,
});

function fieldErrors(answer: Answer): string[] {
  expectProblem(answer, 400, 'validation_failed');
  return (answer.body.errors as { path: string }[]).map((e) => e.path);
}

let ptceId: string;
beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['*']));
  ptceId = await freshCouncil();
});
afterAll(() => server.close());

const record = (body: unknown) => secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, body);
const stream = () => server.app.eventStore.readStream(`decisions-${ptceId}`);

describe('malformed input (hostile-test defect 8a)', () => {
  test('members present listed twice are a 400 naming present', async () => {
    const answer = await record(decision({ meetingId: undefined, present: ['asso', 'cc', 'asso'] }));
    expect(fieldErrors(answer)).toEqual(['present']);
    expect(JSON.stringify(answer.body)).toContain('asso');
    expect(await stream()).toEqual([]);
  });

  test('a correction listing a member twice is a 400 naming present', async () => {
    const answer = await secretary.send('PATCH', `/v1/ptces/${ptceId}/decisions/d1`, {
      present: ['cc', 'cc'],
      reason: 'liste relue',
    });
    expect(fieldErrors(answer)).toEqual(['present']);
  });
});

describe('malformed input (hostile-test defect 8c)', () => {
  test('a wrong type inside the vote names vote.for, not vote', async () => {
    const answer = await record(decision({ vote: { for: 'deux', against: 1, abstain: 0 } }));
    expect(fieldErrors(answer)).toEqual(['vote.for']);
  });

  test('a consensus with a wrong objection count names vote.objections', async () => {
    const answer = await record(decision({ vote: { method: 'consensus', objections: -1 } }));
    expect(fieldErrors(answer)).toEqual(['vote.objections']);
  });

  test('a legal-structure subject with an unknown step names subject.step', async () => {
    const answer = await record(
      decision({ kind: 'shared_legal_structure', subject: { step: 'dissolved', legalForm: 'scic' } }),
    );
    expect(fieldErrors(answer)).toEqual(['subject.step']);
  });
});

describe('malformed input (hostile-test defect 4)', () => {
  test('a lone surrogate or a bidi override in a title, a NUL in an annulment reason: 400 naming the field', async () => {
    expect(fieldErrors(await record(decision({ title: 'Budget \udbff' })))).toEqual(['title']);
    expect(fieldErrors(await record(decision({ title: '\u2067Budget\u2069' })))).toEqual(['title']);
    const annul = await secretary.send('POST', `/v1/ptces/${ptceId}/decisions/d1/annulment`, {
      reason: 'prise sans quorum\u0000',
    });
    expect(fieldErrors(annul)).toEqual(['reason']);
    expect(await stream()).toEqual([]);
  });
});

describe('malformed input (hostile-test defect 8j)', () => {
  test('a decision citing a meeting is dated on its day or within 92 days after it', async () => {
    const onTheDay = await record(decision({ decisionId: 'same-day' }));
    expect(onTheDay.status, JSON.stringify(onTheDay.body)).toBe(201);
    // 2020-04-01 + 92 days = 2020-07-02, when the minutes are approved at the latest.
    const atTheBound = await record(decision({ decisionId: 'at-bound', occurredAt: '2020-07-02' }));
    expect(atTheBound.status, JSON.stringify(atTheBound.body)).toBe(201);
  });

  test('later, it is a 422 naming the meeting and both dates', async () => {
    const before = (await stream()).length;
    const answer = await record(decision({ decisionId: 'late', occurredAt: '2023-04-01' }));
    expectProblem(answer, 422, 'long_after_meeting');
    expect(answer.body).toMatchObject({
      meetingId: 'c1',
      heldAt: '2020-04-01',
      decidedAt: '2023-04-01',
      maxDays: 92,
    });
    expect(answer.body.detail).toMatch(/c1.*2020-04-01|2020-04-01.*c1/);
    expect(answer.body.detail).toContain('2023-04-01');
    const dayAfterBound = await record(decision({ decisionId: 'late-2', occurredAt: '2020-07-03' }));
    expectProblem(dayAfterBound, 422, 'long_after_meeting');
    expect(await stream()).toHaveLength(before);
  });

  test('a correction moving a decision that far from its meeting is refused the same way', async () => {
    const answer = await secretary.send('PATCH', `/v1/ptces/${ptceId}/decisions/same-day`, {
      decidedAt: '2021-01-15',
      reason: 'date recopiée du registre',
    });
    expectProblem(answer, 422, 'long_after_meeting');
    expect(answer.body).toMatchObject({ meetingId: 'c1', heldAt: '2020-04-01', decidedAt: '2021-01-15' });
  });
});
