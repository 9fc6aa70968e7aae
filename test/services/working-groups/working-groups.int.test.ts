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
let counter = 0;

/** A fresh, seeded PTCE per test, so that tests do not depend on one another. */
async function freshPtce(): Promise<string> {
  counter += 1;
  const ptceId = `wg-${counter}`;
  await seedPtce(secretary, ptceId);
  return ptceId;
}

async function openSpace(ptceId: string, spaceId = 'gt', occurredAt = '2020-03-01'): Promise<void> {
  const answer = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, {
    spaceId,
    kind: 'operational',
    name: 'Groupe de travail',
    occurredAt,
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
}

async function enrol(ptceId: string, organisationId: string, spaceId = 'gt', occurredAt = '2020-03-01') {
  const answer = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/${spaceId}/members`, {
    organisationId,
    occurredAt,
  });
  expect(answer.status, JSON.stringify(answer.body)).toBe(201);
}

async function workgroupEvents(ptceId: string) {
  return server.app.eventStore.readStream(`workgroups-${ptceId}`);
}

beforeAll(async () => {
  server = await startTestServer();
  secretary = clientFor(server, await server.bearer('secretary', ['*']));
});
afterAll(() => server.close());

describe('POST /v1/ptces/{ptceId}/spaces', () => {
  test('opens a space with the given id, default rules stored', async () => {
    const ptceId = await freshPtce();
    const answer = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, {
      spaceId: 'copil',
      kind: 'strategic',
      name: 'Comité de pilotage',
      themes: ['mobility'],
      occurredAt: '2020-03-01',
      evidence: { source: 'compte rendu' },
    });
    expectWritten(answer, 201, { ptceId, spaceId: 'copil', revision: 0 });
    const [event] = await workgroupEvents(ptceId);
    expect(event).toMatchObject({
      type: 'SpaceOpened',
      occurredAt: '2020-03-01',
      data: { spaceId: 'copil', rules: { quorum: 0.5, majority: 'simple' } },
      evidence: { source: 'compte rendu' },
    });
  });

  test('makes a slug id when the client leaves it out', async () => {
    const ptceId = await freshPtce();
    const body = { kind: 'operational', name: 'GT', occurredAt: '2020-03-01' };
    const first = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, body);
    const second = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, body);
    expectWritten(first, 201, { ptceId });
    expectWritten(second, 201, { ptceId });
    expect(first.body.spaceId).toMatch(SLUG);
    expect(first.body.spaceId).toMatch(/^sp-[a-z0-9]{10}$/);
    expect(second.body.spaceId).not.toBe(first.body.spaceId);
  });

  test('Idempotency-Key: a replay answers the same id and records one event; another body is 422', async () => {
    const ptceId = await freshPtce();
    const body = { kind: 'operational', name: 'GT', occurredAt: '2020-03-01' };
    const headers = { 'idempotency-key': 'open-gt-once' };
    const first = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, body, headers);
    const replay = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, body, headers);
    expectWritten(first, 201, { ptceId });
    expect(replay.status).toBe(201);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.etag).toBe(first.headers.etag);
    expect(await workgroupEvents(ptceId)).toHaveLength(1);

    const other = await secretary.send(
      'POST',
      `/v1/ptces/${ptceId}/spaces`,
      { ...body, name: 'Autre' },
      headers,
    );
    expectProblem(other, 422, 'idempotency_key_reused');
    expect(await workgroupEvents(ptceId)).toHaveLength(1);
  });

  test('If-Match: a stale revision is 412 and records nothing; the current one succeeds', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId, 'gt');
    const body = { spaceId: 'gt2', kind: 'operational', name: 'GT 2', occurredAt: '2020-03-01' };
    const stale = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, body, { 'if-match': '"5"' });
    expectProblem(stale, 412, 'precondition_failed');
    expect(await workgroupEvents(ptceId)).toHaveLength(1);
    const current = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, body, { 'if-match': '"0"' });
    expectWritten(current, 201, { spaceId: 'gt2', revision: 1 });
  });

  test('refusals: 409 twice, 422 before registration or in the future, 404 unknown PTCE, 400 unknown field and bad enum', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId, 'gt');
    const url = `/v1/ptces/${ptceId}/spaces`;
    const base = { spaceId: 'gt', kind: 'operational', name: 'GT', occurredAt: '2020-03-01' };
    expectProblem(await secretary.send('POST', url, base), 409, 'space_already_exists');
    expectProblem(
      await secretary.send('POST', url, { ...base, spaceId: 'early', occurredAt: '2019-12-31' }),
      422,
      'before_registration',
    );
    const future = new Date(Date.now() + 3 * 86_400_000).toISOString();
    expectProblem(
      await secretary.send('POST', url, { ...base, spaceId: 'later', occurredAt: future }),
      422,
      'occurred_in_future',
    );
    expectProblem(
      await secretary.send('POST', '/v1/ptces/nowhere/spaces', { ...base, spaceId: 'x' }),
      404,
      'ptce_not_found',
    );

    const unknown = await secretary.send('POST', url, { ...base, spaceId: 'x', colour: 'blue' });
    expectProblem(unknown, 400, 'validation_failed');
    expect(unknown.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('colour') })]),
    );
    const badEnum = await secretary.send('POST', url, { ...base, spaceId: 'x', kind: 'secret' });
    expectProblem(badEnum, 400, 'validation_failed');
    expect(badEnum.body.errors).toEqual(
      expect.arrayContaining([expect.objectContaining({ path: expect.stringContaining('kind') })]),
    );
    const badRules = await secretary.send('POST', url, {
      ...base,
      spaceId: 'x',
      rules: { quorum: 2, majority: 'simple' },
    });
    expectProblem(badRules, 400, 'validation_failed');
    expect(await workgroupEvents(ptceId)).toHaveLength(1);
  });
});

describe('POST /v1/ptces/{ptceId}/spaces/{spaceId}/members', () => {
  test('enrols an active member, role member by default', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId);
    const answer = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/members`, {
      organisationId: 'cc',
      role: 'chair',
      occurredAt: '2020-03-02',
    });
    expectWritten(answer, 201, { ptceId, spaceId: 'gt', organisationId: 'cc', revision: 1 });
    const plain = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/members`, {
      organisationId: 'asso',
      occurredAt: '2020-03-02',
    });
    expectWritten(plain, 201, { organisationId: 'asso' });
    const events = await workgroupEvents(ptceId);
    expect(events.map((e) => e.data)).toEqual([
      expect.anything(),
      { spaceId: 'gt', organisationId: 'cc', role: 'chair' },
      { spaceId: 'gt', organisationId: 'asso', role: 'member' },
    ]);
  });

  test('refusals: 404 unknown space, 409 enrolled twice, 422 not a member at that date, 422 before the space opened, 400 bad role', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId, 'gt', '2020-03-01');
    await enrol(ptceId, 'cc');
    const url = `/v1/ptces/${ptceId}/spaces/gt/members`;
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/nope/members`, {
        organisationId: 'cc',
        occurredAt: '2020-03-02',
      }),
      404,
      'space_not_found',
    );
    expectProblem(
      await secretary.send('POST', url, { organisationId: 'cc', occurredAt: '2020-03-02' }),
      409,
      'already_enrolled',
    );
    const stranger = await secretary.send('POST', url, {
      organisationId: 'inconnu',
      occurredAt: '2020-03-02',
    });
    expectProblem(stranger, 422, 'not_a_member_at_date');
    expect(stranger.body.offenders).toEqual(['inconnu']);
    // garage joined on 2020-02-01: not yet a member in January.
    const early = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces`, {
      spaceId: 'early',
      kind: 'operational',
      name: 'Early',
      occurredAt: '2020-01-10',
    });
    expect(early.status).toBe(201);
    const notYet = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/early/members`, {
      organisationId: 'garage',
      occurredAt: '2020-01-15',
    });
    expectProblem(notYet, 422, 'not_a_member_at_date');
    expect(notYet.body.offenders).toEqual(['garage']);
    expectProblem(
      await secretary.send('POST', url, { organisationId: 'garage', occurredAt: '2020-02-15' }),
      422,
      'before_space_opened',
    );
    expectProblem(
      await secretary.send('POST', url, { organisationId: 'garage', occurredAt: '2020-03-02', role: 'boss' }),
      400,
      'validation_failed',
    );
  });
});

describe('POST /v1/ptces/{ptceId}/spaces/{spaceId}/members/{organisationId}/withdrawal', () => {
  test('withdraws an enrolled member (200), and refuses one not enrolled (409) or an unknown space (404)', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId);
    await enrol(ptceId, 'cc');
    const url = `/v1/ptces/${ptceId}/spaces/gt/members/cc/withdrawal`;
    const answer = await secretary.send('POST', url, { occurredAt: '2020-06-01' });
    expectWritten(answer, 200, { ptceId, spaceId: 'gt', organisationId: 'cc' });
    expectProblem(await secretary.send('POST', url, { occurredAt: '2020-06-02' }), 409, 'not_enrolled');
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/nope/members/cc/withdrawal`, {
        occurredAt: '2020-06-02',
      }),
      404,
      'space_not_found',
    );
    expectProblem(
      await secretary.send('POST', url, { occurredAt: '2020-06-02', reason: 'départ' }),
      400,
      'validation_failed',
    );
  });
});

describe('meetings', () => {
  test('POST records a meeting with the given or a generated id', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId);
    await enrol(ptceId, 'cc');
    await enrol(ptceId, 'asso');
    const url = `/v1/ptces/${ptceId}/spaces/gt/meetings`;
    const named = await secretary.send('POST', url, {
      meetingId: 'gt-2020-04-01',
      attendees: ['cc', 'asso'],
      guests: 2,
      minutes: { sha256: 'a'.repeat(64), uri: 'https://example.org/cr.pdf' },
      occurredAt: '2020-04-01',
    });
    expectWritten(named, 201, { ptceId, spaceId: 'gt', meetingId: 'gt-2020-04-01' });
    const unnamed = await secretary.send('POST', url, { attendees: ['cc'], occurredAt: '2020-05-01' });
    expectWritten(unnamed, 201, { ptceId, spaceId: 'gt' });
    expect(unnamed.body.meetingId).toMatch(/^mt-[a-z0-9]{10}$/);
  });

  test('POST refusals: 422 attendees not enrolled (with offenders), 404 unknown space, 409 closed space, 400 empty attendees', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId);
    await enrol(ptceId, 'cc');
    const url = `/v1/ptces/${ptceId}/spaces/gt/meetings`;
    const notEnrolled = await secretary.send('POST', url, {
      attendees: ['cc', 'garage', 'inconnu'],
      occurredAt: '2020-04-01',
    });
    expectProblem(notEnrolled, 422, 'attendees_not_enrolled');
    expect(notEnrolled.body.offenders).toEqual(['garage', 'inconnu']);
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/nope/meetings`, {
        attendees: ['cc'],
        occurredAt: '2020-04-01',
      }),
      404,
      'space_not_found',
    );
    expectProblem(
      await secretary.send('POST', url, { attendees: [], occurredAt: '2020-04-01' }),
      400,
      'validation_failed',
    );
    const closed = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/closure`, {
      occurredAt: '2020-05-01',
    });
    expect(closed.status).toBe(200);
    expectProblem(
      await secretary.send('POST', url, { attendees: ['cc'], occurredAt: '2020-06-01' }),
      409,
      'space_closed',
    );
  });

  test('PATCH corrects attendance (200) and refuses an unknown meeting (404), a non-enrolled attendee (422), no field (422), no reason (400)', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId);
    await enrol(ptceId, 'cc');
    await enrol(ptceId, 'asso');
    const held = await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/meetings`, {
      meetingId: 'm1',
      attendees: ['cc'],
      occurredAt: '2020-04-01',
    });
    expect(held.status).toBe(201);
    const url = `/v1/ptces/${ptceId}/spaces/gt/meetings/m1`;
    const corrected = await secretary.send('PATCH', url, {
      attendees: ['cc', 'asso'],
      heldAt: '2020-04-02',
      reason: "feuille d'émargement retrouvée",
    });
    expectWritten(corrected, 200, { ptceId, spaceId: 'gt', meetingId: 'm1' });
    const events = await workgroupEvents(ptceId);
    expect(events.at(-1)).toMatchObject({
      type: 'MeetingCorrected',
      data: {
        correctsEventId: held.body.eventIds && (held.body.eventIds as string[])[0],
        fields: { attendees: ['cc', 'asso'], heldAt: '2020-04-02' },
      },
    });

    expectProblem(
      await secretary.send('PATCH', `/v1/ptces/${ptceId}/spaces/gt/meetings/nope`, {
        attendees: ['cc'],
        reason: 'r',
      }),
      404,
      'meeting_not_found',
    );
    const offender = await secretary.send('PATCH', url, { attendees: ['cc', 'garage'], reason: 'r' });
    expectProblem(offender, 422, 'attendees_not_enrolled');
    expect(offender.body.offenders).toEqual(['garage']);
    expectProblem(await secretary.send('PATCH', url, { reason: 'rien' }), 422, 'nothing_to_correct');
    expectProblem(await secretary.send('PATCH', url, { attendees: ['cc'] }), 400, 'validation_failed');
    expectProblem(
      await secretary.send('PATCH', url, { attendees: ['cc'], reason: 'r', occurredAt: '2020-04-01' }),
      400,
      'validation_failed',
    );
  });
});

describe('POST /v1/ptces/{ptceId}/spaces/{spaceId}/closure', () => {
  test('closes a space (200); closing again or enrolling afterwards is 409', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId);
    const url = `/v1/ptces/${ptceId}/spaces/gt/closure`;
    expectWritten(await secretary.send('POST', url, { occurredAt: '2020-09-01' }), 200, {
      ptceId,
      spaceId: 'gt',
    });
    expectProblem(await secretary.send('POST', url, { occurredAt: '2020-10-01' }), 409, 'space_closed');
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/gt/members`, {
        organisationId: 'cc',
        occurredAt: '2020-10-01',
      }),
      409,
      'space_closed',
    );
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/spaces/nope/closure`, { occurredAt: '2020-10-01' }),
      404,
      'space_not_found',
    );
  });
});

describe('activities', () => {
  test('POST launches an activity with the given or a generated id', async () => {
    const ptceId = await freshPtce();
    await openSpace(ptceId);
    const url = `/v1/ptces/${ptceId}/activities`;
    const named = await secretary.send('POST', url, {
      activityId: 'garage-solidaire',
      name: 'Garage solidaire',
      theme: 'mobility',
      carriers: ['asso', 'garage'],
      spaceId: 'gt',
      occurredAt: '2020-04-01',
    });
    expectWritten(named, 201, { ptceId, activityId: 'garage-solidaire' });
    const unnamed = await secretary.send('POST', url, {
      name: 'Magasin',
      carriers: ['cc'],
      occurredAt: '2020-04-01',
    });
    expectWritten(unnamed, 201, { ptceId });
    expect(unnamed.body.activityId).toMatch(/^ac-[a-z0-9]{10}$/);
  });

  test('POST refusals: 422 carriers not members (with offenders), 409 launched twice, 404 unknown space, 400 no carriers', async () => {
    const ptceId = await freshPtce();
    const url = `/v1/ptces/${ptceId}/activities`;
    const base = { activityId: 'a1', name: 'A', carriers: ['asso'], occurredAt: '2020-04-01' };
    expect((await secretary.send('POST', url, base)).status).toBe(201);
    expectProblem(await secretary.send('POST', url, base), 409, 'activity_already_exists');
    const strangers = await secretary.send('POST', url, {
      ...base,
      activityId: 'a2',
      carriers: ['asso', 'inconnu'],
    });
    expectProblem(strangers, 422, 'not_a_member_at_date');
    expect(strangers.body.offenders).toEqual(['inconnu']);
    expectProblem(
      await secretary.send('POST', url, { ...base, activityId: 'a3', spaceId: 'nope' }),
      404,
      'space_not_found',
    );
    expectProblem(
      await secretary.send('POST', url, { ...base, activityId: 'a4', carriers: [] }),
      400,
      'validation_failed',
    );
  });

  test('carriers: 200, then 409 already a carrier, 422 not a member, 404 unknown activity', async () => {
    const ptceId = await freshPtce();
    const launched = await secretary.send('POST', `/v1/ptces/${ptceId}/activities`, {
      activityId: 'a1',
      name: 'A',
      carriers: ['asso'],
      occurredAt: '2020-04-01',
    });
    expect(launched.status).toBe(201);
    const url = `/v1/ptces/${ptceId}/activities/a1/carriers`;
    expectWritten(
      await secretary.send('POST', url, { organisationId: 'cc', occurredAt: '2020-05-01' }),
      200,
      {
        ptceId,
        activityId: 'a1',
        organisationId: 'cc',
      },
    );
    expectProblem(
      await secretary.send('POST', url, { organisationId: 'cc', occurredAt: '2020-05-02' }),
      409,
      'already_carrier',
    );
    const stranger = await secretary.send('POST', url, {
      organisationId: 'inconnu',
      occurredAt: '2020-05-02',
    });
    expectProblem(stranger, 422, 'not_a_member_at_date');
    expect(stranger.body.offenders).toEqual(['inconnu']);
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/activities/nope/carriers`, {
        organisationId: 'cc',
        occurredAt: '2020-05-02',
      }),
      404,
      'activity_not_found',
    );
    expectProblem(
      await secretary.send('POST', url, { organisationId: 'garage', occurredAt: '2020-03-01' }),
      422,
      'before_activity_launched',
    );
  });

  test('end: 200, then 409 ended twice and for a new carrier, 404 unknown activity', async () => {
    const ptceId = await freshPtce();
    const launched = await secretary.send('POST', `/v1/ptces/${ptceId}/activities`, {
      activityId: 'a1',
      name: 'A',
      carriers: ['asso'],
      occurredAt: '2020-04-01',
    });
    expect(launched.status).toBe(201);
    const url = `/v1/ptces/${ptceId}/activities/a1/end`;
    expectWritten(
      await secretary.send('POST', url, { reason: 'fin du financement', occurredAt: '2020-12-31' }),
      200,
      {
        ptceId,
        activityId: 'a1',
      },
    );
    expectProblem(await secretary.send('POST', url, { occurredAt: '2021-01-02' }), 409, 'activity_ended');
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/activities/a1/carriers`, {
        organisationId: 'cc',
        occurredAt: '2021-01-02',
      }),
      409,
      'activity_ended',
    );
    expectProblem(
      await secretary.send('POST', `/v1/ptces/${ptceId}/activities/nope/end`, { occurredAt: '2021-01-02' }),
      404,
      'activity_not_found',
    );
  });
});
