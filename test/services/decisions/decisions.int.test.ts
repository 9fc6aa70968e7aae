import {
  type Client,
  clientFor,
  expectProblem,
  expectWritten,
  SLUG,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let server: TestServer;
let secretary: Client;
let token: string;
let counter = 0;

const TWO_THIRDS = { quorum: 0.5, majority: 'two_thirds' };

/**
 * A fresh PTCE whose council (two-thirds majority, quorum one half) enrols asso, cc and garage
 * on 2020-03-01, and meets with all three on 2020-04-01 (meeting `c1`).
 */
async function freshCouncil(): Promise<string> {
  counter += 1;
  const ptceId = `dc-${counter}`;
  await seedPtce(secretary, ptceId);
  const steps: [string, unknown][] = [
    [
      `/v1/ptces/${ptceId}/spaces`,
      {
        spaceId: 'conseil',
        kind: 'governance',
        name: 'Conseil',
        rules: TWO_THIRDS,
        occurredAt: '2020-03-01',
      },
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

async function decisionEvents(ptceId: string) {
  return server.app.eventStore.readStream(`decisions-${ptceId}`);
}

beforeAll(async () => {
  server = await startTestServer();
  token = await server.bearer('secretary', ['*']);
  secretary = clientFor(server, token);
});
afterAll(() => server.close());

describe('POST /v1/ptces/{ptceId}/decisions', () => {
  test("derives the outcome under the space's rules; the meeting's attendees are the present members", async () => {
    const ptceId = await freshCouncil();
    const answer = await secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, decision());
    expectWritten(answer, 201, {
      ptceId,
      decisionId: 'd1',
      outcome: 'adopted',
      rules: TWO_THIRDS,
      revision: 0,
    });
    const [event] = await decisionEvents(ptceId);
    expect(event).toMatchObject({
      type: 'DecisionRecorded',
      occurredAt: '2020-04-01',
      data: { present: ['asso', 'cc', 'garage'], enrolledCount: 3, outcome: 'adopted', rules: TWO_THIRDS },
    });
  });

  test('makes an id when left out; no quorum below half the enrolled; consensus without objection adopts', async () => {
    const ptceId = await freshCouncil();
    const url = `/v1/ptces/${ptceId}/decisions`;
    const few = await secretary.send('POST', url, {
      ...decision({ decisionId: undefined, meetingId: undefined }),
      present: ['asso'],
      vote: { for: 1, against: 0, abstain: 0 },
    });
    expectWritten(few, 201, { ptceId, outcome: 'no_quorum', rules: TWO_THIRDS });
    expect(few.body.decisionId).toMatch(/^dc-[a-z0-9]{10}$/);
    expect(few.body.decisionId).toMatch(SLUG);
    const consensus = await secretary.send('POST', url, {
      ...decision({ decisionId: 'd2', meetingId: undefined }),
      present: ['asso', 'cc'],
      vote: { method: 'consensus', objections: 0 },
    });
    expectWritten(consensus, 201, { decisionId: 'd2', outcome: 'adopted' });
    const rejected = await secretary.send(
      'POST',
      url,
      decision({ decisionId: 'd3', vote: { for: 1, against: 1, abstain: 1 } }),
    );
    expectWritten(rejected, 201, { decisionId: 'd3', outcome: 'rejected' });
  });

  test('Idempotency-Key: a replay answers the same id, outcome and rules, one event; another body is 422', async () => {
    const ptceId = await freshCouncil();
    const url = `/v1/ptces/${ptceId}/decisions`;
    const body = decision({ decisionId: undefined });
    const headers = { 'idempotency-key': 'decision-once' };
    const first = await secretary.send('POST', url, body, headers);
    expectWritten(first, 201, { outcome: 'adopted', rules: TWO_THIRDS });
    const replay = await secretary.send('POST', url, body, headers);
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.etag).toBe(first.headers.etag);
    expect(await decisionEvents(ptceId)).toHaveLength(1);
    expectProblem(
      await secretary.send('POST', url, { ...body, title: 'Autre' }, headers),
      422,
      'idempotency_key_reused',
    );
    expect(await decisionEvents(ptceId)).toHaveLength(1);
  });

  test('If-Match: a stale revision is 412 and records nothing; the current one succeeds', async () => {
    const ptceId = await freshCouncil();
    const url = `/v1/ptces/${ptceId}/decisions`;
    const first = await secretary.send('POST', url, decision(), { 'if-match': '"0"' });
    // The decisions stream does not exist yet: any revision is stale.
    expectProblem(first, 412, 'precondition_failed');
    expect(await decisionEvents(ptceId)).toHaveLength(0);
    const created = await secretary.send('POST', url, decision());
    expectWritten(created, 201, { revision: 0 });
    const stale = await secretary.send(
      'PATCH',
      `${url}/d1`,
      { title: 'Budget 2020', reason: 'r' },
      { 'if-match': '"3"' },
    );
    expectProblem(stale, 412, 'precondition_failed');
    const current = await secretary.send(
      'PATCH',
      `${url}/d1`,
      { title: 'Budget 2020', reason: 'r' },
      { 'if-match': String(created.headers.etag) },
    );
    expectWritten(current, 200, { revision: 1, outcome: 'adopted' });
    expect(await decisionEvents(ptceId)).toHaveLength(2);
  });

  test('refusals through HTTP as problem+json', async () => {
    const ptceId = await freshCouncil();
    const url = `/v1/ptces/${ptceId}/decisions`;
    expect((await secretary.send('POST', url, decision())).status).toBe(201);

    expectProblem(await secretary.send('POST', url, decision()), 409, 'decision_already_exists');
    expectProblem(
      await secretary.send(
        'POST',
        url,
        decision({ decisionId: 'x1', spaceId: 'nope', meetingId: undefined, present: ['asso'] }),
      ),
      404,
      'space_not_found',
    );
    expectProblem(
      await secretary.send('POST', url, decision({ decisionId: 'x2', meetingId: 'nope' })),
      404,
      'meeting_not_found',
    );
    const tally = await secretary.send(
      'POST',
      url,
      decision({
        decisionId: 'x3',
        meetingId: undefined,
        present: ['asso'],
        vote: { for: 3, against: 0, abstain: 0 },
      }),
    );
    expectProblem(tally, 422, 'tally_exceeds_present');
    expect(tally.body).toMatchObject({ votes: 3, present: 1 });
    const strangers = await secretary.send(
      'POST',
      url,
      decision({ decisionId: 'x4', meetingId: undefined, present: ['asso', 'lycee', 'inconnu'] }),
    );
    expectProblem(strangers, 422, 'attendees_not_enrolled');
    expect(strangers.body.offenders).toEqual(['lycee', 'inconnu']);
    expectProblem(
      await secretary.send('POST', url, decision({ decisionId: 'x5', meetingId: undefined })),
      422,
      'present_required',
    );
    expectProblem(
      await secretary.send('POST', url, decision({ decisionId: 'x6', kind: 'shared_legal_structure' })),
      422,
      'invalid_subject',
    );
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString();
    expectProblem(
      await secretary.send('POST', url, decision({ decisionId: 'x7', occurredAt: future })),
      422,
      'occurred_in_future',
    );
    expectProblem(
      await secretary.send('POST', url, decision({ decisionId: 'x8', occurredAt: '2019-06-01' })),
      422,
      'before_registration',
    );
    expectProblem(
      await secretary.send('POST', url, decision({ decisionId: 'x9', occurredAt: '2020-03-15' })),
      422,
      'before_meeting',
    );

    const unknown = await secretary.send('POST', url, decision({ decisionId: 'y1', outcome: 'adopted' }));
    expectProblem(unknown, 400, 'validation_failed');
    expect(unknown.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('outcome') })]),
    );
    const badKind = await secretary.send('POST', url, decision({ decisionId: 'y2', kind: 'secret' }));
    expectProblem(badKind, 400, 'validation_failed');
    expect(badKind.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('kind') })]),
    );
    expectProblem(
      await secretary.send('POST', url, decision({ decisionId: 'y3', vote: { for: 1, against: 0 } })),
      400,
      'validation_failed',
    );
    expectProblem(
      await secretary.send('POST', url, decision({ decisionId: 'Y4' })),
      400,
      'validation_failed',
    );
    expect(await decisionEvents(ptceId)).toHaveLength(1);

    const closed = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/conseil/closure`, {
      occurredAt: '2020-05-01',
    });
    expect(closed.status).toBe(200);
    expectProblem(
      await secretary.send(
        'POST',
        url,
        decision({
          decisionId: 'z1',
          meetingId: undefined,
          present: ['asso', 'cc'],
          occurredAt: '2020-06-01',
        }),
      ),
      409,
      'space_closed',
    );
  });
});

describe('PATCH /v1/ptces/{ptceId}/decisions/{decisionId}', () => {
  test('a corrected vote flips the outcome; corrected presence can lose the quorum', async () => {
    const ptceId = await freshCouncil();
    const recorded = await secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, decision());
    expectWritten(recorded, 201, { outcome: 'adopted' });
    const url = `/v1/ptces/${ptceId}/decisions/d1`;

    const flipped = await secretary.send('PATCH', url, {
      vote: { for: 1, against: 2, abstain: 0 },
      reason: 'décompte relu sur le procès-verbal',
    });
    expectWritten(flipped, 200, {
      ptceId,
      decisionId: 'd1',
      outcome: 'rejected',
      rules: TWO_THIRDS,
      revision: 1,
    });
    const events = await decisionEvents(ptceId);
    expect(events.at(-1)).toMatchObject({
      type: 'DecisionCorrected',
      data: {
        correctsEventId: (recorded.body.eventIds as string[])[0],
        fields: { vote: { for: 1, against: 2, abstain: 0 } },
        outcome: 'rejected',
      },
    });

    const thin = await secretary.send('PATCH', url, {
      present: ['asso'],
      vote: { for: 1, against: 0, abstain: 0 },
      reason: 'feuille de présence',
    });
    expectWritten(thin, 200, { outcome: 'no_quorum' });
  });

  test('refusals: 404 unknown decision, 422 nothing to correct or tally over present, 400 occurredAt or no reason', async () => {
    const ptceId = await freshCouncil();
    expect((await secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, decision())).status).toBe(201);
    const url = `/v1/ptces/${ptceId}/decisions/d1`;
    expectProblem(
      await secretary.send('PATCH', `/v1/ptces/${ptceId}/decisions/nope`, { title: 'T', reason: 'r' }),
      404,
      'decision_not_found',
    );
    expectProblem(await secretary.send('PATCH', url, { reason: 'rien' }), 422, 'nothing_to_correct');
    const tally = await secretary.send('PATCH', url, {
      vote: { for: 4, against: 0, abstain: 0 },
      reason: 'r',
    });
    expectProblem(tally, 422, 'tally_exceeds_present');
    const offenders = await secretary.send('PATCH', url, { present: ['asso', 'inconnu'], reason: 'r' });
    expectProblem(offenders, 422, 'attendees_not_enrolled');
    expect(offenders.body.offenders).toEqual(['inconnu']);
    expectProblem(
      await secretary.send('PATCH', url, { title: 'T', reason: 'r', occurredAt: '2020-04-01' }),
      400,
      'validation_failed',
    );
    expectProblem(await secretary.send('PATCH', url, { title: 'T' }), 400, 'validation_failed');
    expect(await decisionEvents(ptceId)).toHaveLength(1);
  });
});

describe('POST /v1/ptces/{ptceId}/decisions/{decisionId}/annulment', () => {
  test('annuls at the given date (200); annulled twice is 409, unknown 404, before the decision 422', async () => {
    const ptceId = await freshCouncil();
    expect((await secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, decision())).status).toBe(201);
    const url = `/v1/ptces/${ptceId}/decisions/d1/annulment`;
    expectProblem(
      await secretary.send('POST', url, { reason: 'vice de forme', occurredAt: '2020-03-31' }),
      422,
      'before_decision',
    );
    const annulled = await secretary.send('POST', url, { reason: 'vice de forme', occurredAt: '2020-05-01' });
    expectWritten(annulled, 200, { ptceId, decisionId: 'd1' });
    expect((await decisionEvents(ptceId)).at(-1)).toMatchObject({
      type: 'DecisionAnnulled',
      occurredAt: '2020-05-01',
      data: { decisionId: 'd1', reason: 'vice de forme' },
    });
    expectProblem(
      await secretary.send('POST', url, { reason: 'encore', occurredAt: '2020-06-01' }),
      409,
      'already_annulled',
    );
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/decisions/nope/annulment`, { reason: 'r' }),
      404,
      'decision_not_found',
    );
    expectProblem(await secretary.send('POST', url, { occurredAt: '2020-06-01' }), 400, 'validation_failed');
  });

  test("without occurredAt the annulment is retroactive: stored at the decision's date, marked so", async () => {
    const ptceId = await freshCouncil();
    expect((await secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, decision())).status).toBe(201);
    const annulled = await secretary.send('POST', `/v1/ptces/${ptceId}/decisions/d1/annulment`, {
      reason: 'annulée par le tribunal',
    });
    expectWritten(annulled, 200, { decisionId: 'd1' });
    expect((await decisionEvents(ptceId)).at(-1)).toMatchObject({
      type: 'DecisionAnnulled',
      occurredAt: '2020-04-01',
      data: { decisionId: 'd1', reason: 'annulée par le tribunal', retroactive: true },
    });
  });

  test("a retroactive annulment follows a later correction of the decision's date", async () => {
    const ptceId = await freshCouncil();
    expect((await secretary.send('POST', `/v1/ptces/${ptceId}/decisions`, decision())).status).toBe(201);
    const annul = await secretary.send('POST', `/v1/ptces/${ptceId}/decisions/d1/annulment`, { reason: 'r' });
    expectWritten(annul, 200, { decisionId: 'd1' });
    const read = async (asOf: string) => {
      const res = await server.app.inject({
        method: 'GET',
        url: `/v1/ptces/${ptceId}?asOf=${asOf}`,
        headers: { authorization: token },
      });
      expect(res.statusCode, res.body).toBe(200);
      return res.json() as {
        recentDecisions: { decisionId: string; annulled: boolean }[];
        warnings: unknown[];
      };
    };
    expect((await read('2020-04-01')).recentDecisions).toEqual([
      expect.objectContaining({ decisionId: 'd1', annulled: true }),
    ]);
    // Minutes approved a month later: the decision is dated 2020-05-01; the annulment moves with it.
    const corrected = await secretary.send('PATCH', `/v1/ptces/${ptceId}/decisions/d1`, {
      decidedAt: '2020-05-01',
      reason: 'date of the minutes',
    });
    expect(corrected.status, JSON.stringify(corrected.body)).toBe(200);
    expect((await read('2020-04-15')).recentDecisions).toEqual([]);
    const after = await read('2020-05-01');
    expect(after.recentDecisions).toEqual([
      expect.objectContaining({ decisionId: 'd1', decidedAt: '2020-05-01', annulled: true }),
    ]);
    expect(after.warnings).toEqual([]);
  });
});
