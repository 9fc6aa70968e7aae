import type { EventEnvelope } from '@ptce/events';
import { startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectFieldErrors, expectProblem, expectWritten, send, valCoop } from './helpers.ts';

let server: TestServer;
let admin: string;
let secretary: string;
beforeAll(async () => {
  server = await startTestServer();
  admin = await server.bearer('admin');
  secretary = await server.bearer('secretary', [
    'val-coop',
    'route-ptce',
    'refusals',
    'correcting',
    'retracting',
  ]);
});
afterAll(() => server.close());

const membership = (ptceId: string): Promise<EventEnvelope[]> =>
  server.app.eventStore.readStream(`membership-${ptceId}`);

describe('every membership route answers its success with ids, position, revision and ETag', () => {
  const p = 'route-ptce';
  const positions: string[] = [];
  const ok = async (
    call: Parameters<typeof send>[1],
    status: 200 | 201,
    revision: number,
    ids: Record<string, string>,
  ) => {
    const body = expectWritten(await send(server, call, secretary), status, revision, { ptceId: p, ...ids });
    positions.push(body.position);
    return body;
  };

  test('the whole life of a PTCE, route after route, in one stream', async () => {
    await ok(valCoop.register(p), 201, 0, {});
    await ok(valCoop.joinCcVal(p), 201, 1, { organisationId: 'cc-val' });
    const joinedLycee = await ok(valCoop.joinLycee(p), 201, 2, { organisationId: 'lycee-agricole' });
    await ok(
      {
        method: 'PATCH',
        url: `/v1/ptces/${p}/members/lycee-agricole`,
        payload: { joinedAt: '2018-01-10', reason: "date corrigée d'après la convention signée" },
      },
      200,
      3,
      { organisationId: 'lycee-agricole' },
    );
    await ok(
      {
        method: 'POST',
        url: `/v1/ptces/${p}/pilot`,
        payload: { organisationId: 'cc-val', occurredAt: '2019-01-01' },
      },
      200,
      4,
      { organisationId: 'cc-val' },
    );
    await ok(
      {
        method: 'POST',
        url: `/v1/ptces/${p}/members/asso-mobilite/departure`,
        payload: { reason: 'fin du portage', occurredAt: '2019-06-01' },
      },
      200,
      5,
      { organisationId: 'asso-mobilite' },
    );
    await ok(valCoop.legalEntity(p), 201, 6, {});
    await ok(
      {
        method: 'PATCH',
        url: `/v1/ptces/${p}/legal-entity`,
        payload: { registrationId: '123 456 789', reason: 'numéro SIREN reçu' },
      },
      200,
      7,
      {},
    );
    await ok(valCoop.associate(p, 'cc-val'), 201, 8, { organisationId: 'cc-val' });
    await ok(
      {
        method: 'POST',
        url: `/v1/ptces/${p}/legal-entity/associates/cc-val/withdrawal`,
        payload: { occurredAt: '2022-01-01' },
      },
      200,
      9,
      { organisationId: 'cc-val' },
    );
    await ok(valCoop.recognition(p), 201, 10, {});
    // cc-val's join cannot be retracted: it is the pilot and was an associate. The lycée's can,
    // its correction going with it.
    const retractedEventId = joinedLycee.eventIds[0] as string;
    await ok(
      {
        method: 'POST',
        url: `/v1/ptces/${p}/retractions`,
        payload: { eventId: retractedEventId, reason: 'doublon' },
      },
      200,
      11,
      { retractedEventId },
    );

    // Positions are opaque but ordered: each write comes after the one before.
    expect([...positions].sort()).toEqual(positions);
    expect(new Set(positions).size).toBe(positions.length);

    const events = await membership(p);
    expect(events.map((e) => e.type)).toEqual([
      'PtceRegistered',
      'MemberJoined',
      'MemberJoined',
      'MembershipCorrected',
      'PilotHandedOver',
      'MemberLeft',
      'LegalEntityRegistered',
      'LegalEntityCorrected',
      'AssociateAdmitted',
      'AssociateWithdrew',
      'RecognitionGranted',
      'EventRetracted',
    ]);
    expect(events.every((e) => e.recordedBy === 'secretary-test' && e.ptceId === p)).toBe(true);
    expect(events[0]?.evidence).toEqual({ source: 'compte rendu de la réunion de lancement' });
    expect(events[4]?.data).toEqual({ organisationId: 'cc-val', previousPilotId: 'asso-mobilite' });
    expect(events[11]?.data).toMatchObject({
      retractedEventId,
      retractedType: 'MemberJoined',
      reason: 'doublon',
    });
  });

  test('a PTCE registered without an id gets one made from its name, and it is returned', async () => {
    const { ptceId: _, ...payload } = valCoop.register('unused').payload;
    const res = await send(
      server,
      { method: 'POST', url: '/v1/ptces', payload: { ...payload, name: 'Pôle Écô Sud' } },
      admin,
    );
    // The slug of the name, and a suffix so that near names do not collide.
    const ptceId = String(res.json().ptceId);
    expect(ptceId).toMatch(/^pole-eco-sud-[a-z0-9]{10}$/);
    expectWritten(res, 201, 0, { ptceId });
    expect(await membership(ptceId)).toHaveLength(1);
  });

  test('PTCE slug collision: "Coop Val" then "Coop-Val" registered without ids are two PTCE, not a 409', async () => {
    const { ptceId: _, ...payload } = valCoop.register('unused').payload;
    const register = (name: string, headers: Record<string, string> = {}) =>
      send(server, { method: 'POST', url: '/v1/ptces', payload: { ...payload, name } }, admin, headers);
    const first = await register('Coop Val');
    const second = await register('Coop-Val');
    expect(first.statusCode, first.body).toBe(201);
    expect(second.statusCode, second.body).toBe(201);
    const [a, b] = [String(first.json().ptceId), String(second.json().ptceId)];
    expect(a).toMatch(/^coop-val-[a-z0-9]{10}$/);
    expect(b).toMatch(/^coop-val-[a-z0-9]{10}$/);
    expect(a).not.toBe(b);
    // Under an Idempotency-Key the id is derived: the retry names the same PTCE, records nothing new.
    const keyed = await register('Coop Val', { 'idempotency-key': 'register-coop-val' });
    const retry = await register('Coop Val', { 'idempotency-key': 'register-coop-val' });
    expect(keyed.statusCode, keyed.body).toBe(201);
    expect(retry.json()).toEqual(keyed.json());
    expect(await membership(String(keyed.json().ptceId))).toHaveLength(1);
    // A very long name still gives a slug.
    const long = await register('Pôle '.repeat(30));
    expect(long.statusCode, long.body).toBe(201);
    expect(String(long.json().ptceId)).toMatch(/^[a-z0-9][a-z0-9-]{0,62}$/);
  });
});

describe('refusals, each with its problem+json', () => {
  const p = 'refusals';
  beforeAll(async () => {
    expect((await send(server, valCoop.register(p), secretary)).statusCode).toBe(201);
    expect((await send(server, valCoop.joinCcVal(p), secretary)).statusCode).toBe(201);
  });

  test('400: an unknown field, each one named', async () => {
    const call = valCoop.joinLycee(p);
    const res = await send(
      server,
      { ...call, payload: { ...call.payload, colour: 'blue', size: 3 } },
      secretary,
    );
    expectFieldErrors(res, ['colour', 'size']);
  });

  test('400: a category outside article 9', async () => {
    const call = valCoop.joinLycee(p);
    expectFieldErrors(
      await send(server, { ...call, payload: { ...call.payload, category: 'not_a_category' } }, secretary),
      ['category'],
    );
  });

  test('400: a date that does not exist (2021-02-30)', async () => {
    expectFieldErrors(await send(server, valCoop.joinCcVal(p, '2021-02-30'), secretary), ['occurredAt']);
  });

  test('400: identifiers that are not slugs, in the body and in the path', async () => {
    const call = valCoop.joinLycee(p);
    expectFieldErrors(
      await send(
        server,
        { ...call, payload: { ...call.payload, organisationId: 'Lycée_Agricole' } },
        secretary,
      ),
      ['organisationId'],
    );
    const reg = valCoop.register('Not A Slug');
    expectFieldErrors(await send(server, reg, admin), ['ptceId']);
    const res = await send(server, { ...valCoop.joinLycee('x'), url: '/v1/ptces/-bad-/members' }, admin);
    expectFieldErrors(res, ['ptceId']);
  });

  test('400: several problems at once are all named, nested ones by their dotted path', async () => {
    const reg = valCoop.register('nested');
    const payload = {
      ...reg.payload,
      territory: { name: '' },
      pilot: { organisationId: 'x', name: 'X', category: 'y' },
    };
    expectFieldErrors(await send(server, { ...reg, payload }, admin), ['territory.name', 'pilot.category']);
  });

  test('400: a correction carries no occurredAt (it acts in transaction time)', async () => {
    const res = await send(
      server,
      {
        method: 'PATCH',
        url: `/v1/ptces/${p}/members/cc-val`,
        payload: { name: 'CC du Val', reason: 'nom officiel', occurredAt: '2020-01-01' },
      },
      secretary,
    );
    expectFieldErrors(res, ['occurredAt']);
  });

  test('404: an unknown PTCE', async () => {
    const body = expectProblem(
      await send(server, valCoop.joinCcVal('nowhere'), admin),
      404,
      'ptce_not_found',
    );
    expect(body.instance).toBe('/v1/ptces/nowhere/members');
  });

  test('409: cc-val joining again while a member', async () => {
    const body = expectProblem(
      await send(server, valCoop.joinCcVal(p, '2021-10-01'), secretary),
      409,
      'already_member',
    );
    expect(body.organisationId).toBe('cc-val');
  });

  test('409: the departure of an organisation that is not a member', async () => {
    const res = await send(
      server,
      {
        method: 'POST',
        url: `/v1/ptces/${p}/members/inconnu/departure`,
        payload: { occurredAt: '2020-01-01' },
      },
      secretary,
    );
    expectProblem(res, 409, 'not_a_member');
  });

  test('409: the pilot leaving before another pilot is named', async () => {
    const res = await send(
      server,
      {
        method: 'POST',
        url: `/v1/ptces/${p}/members/asso-mobilite/departure`,
        payload: { occurredAt: '2020-01-01' },
      },
      secretary,
    );
    expectProblem(res, 409, 'pilot_cannot_leave');
  });

  test('409: a PTCE registered twice', async () => {
    expectProblem(await send(server, valCoop.register(p), secretary), 409, 'ptce_already_registered');
  });

  test('422: a member joining before the PTCE was registered (avant-tout, 2016-01-01)', async () => {
    const res = await send(
      server,
      {
        method: 'POST',
        url: `/v1/ptces/${p}/members`,
        payload: {
          organisationId: 'avant-tout',
          name: 'Trop tôt',
          category: 'enterprise',
          occurredAt: '2016-01-01',
        },
      },
      secretary,
    );
    const body = expectProblem(res, 422, 'before_registration');
    expect(body.registeredAt).toBe('2017-03-01');
  });

  test('422: occurredAt more than a day in the future; a fact of today is accepted', async () => {
    const inThreeDays = new Date(Date.now() + 3 * 86_400_000).toISOString().slice(0, 10);
    const call = valCoop.joinLycee(p);
    expectProblem(
      await send(server, { ...call, payload: { ...call.payload, occurredAt: inThreeDays } }, secretary),
      422,
      'occurred_in_future',
    );
    const now = new Date().toISOString();
    const ok = await send(server, { ...call, payload: { ...call.payload, occurredAt: now } }, secretary);
    expect(ok.statusCode, ok.body).toBe(201);
  });

  test('422: an associate that is not a member', async () => {
    expectProblem(await send(server, valCoop.associate(p, 'inconnu'), secretary), 422, 'no_legal_entity');
    expect((await send(server, valCoop.legalEntity(p), secretary)).statusCode).toBe(201);
    const body = expectProblem(
      await send(server, valCoop.associate(p, 'inconnu'), secretary),
      422,
      'not_a_member_at_date',
    );
    expect(body.organisationId).toBe('inconnu');
  });

  test('an unknown event cannot be retracted (404 event_not_found: an unknown resource of this PTCE)', async () => {
    const res = await send(
      server,
      {
        method: 'POST',
        url: `/v1/ptces/${p}/retractions`,
        payload: { eventId: '00000000-0000-4000-8000-000000000000', reason: 'erreur' },
      },
      secretary,
    );
    const body = expectProblem(res, 404, 'event_not_found');
    expect(body.eventId).toBe('00000000-0000-4000-8000-000000000000');
  });

  test('refusals record nothing', async () => {
    const types = (await membership(p)).map((e) => e.type);
    expect(types).toEqual(['PtceRegistered', 'MemberJoined', 'MemberJoined', 'LegalEntityRegistered']);
  });
});

describe('corrections and retractions act in transaction time', () => {
  test('a PATCH of joinedAt answers 200 and leaves the original event as it was', async () => {
    const p = 'correcting';
    await send(server, valCoop.register(p), secretary);
    const joined = expectWritten(await send(server, valCoop.joinLycee(p), secretary), 201, 1);
    const [before] = (await membership(p)).slice(1);
    const started = Date.now();
    const res = await send(
      server,
      {
        method: 'PATCH',
        url: `/v1/ptces/${p}/members/lycee-agricole`,
        payload: { joinedAt: '2018-01-10', reason: "date corrigée d'après la convention signée" },
      },
      secretary,
    );
    expectWritten(res, 200, 2, { ptceId: p, organisationId: 'lycee-agricole' });

    const events = await membership(p);
    expect(events).toHaveLength(3);
    expect(events[1]).toEqual(before);
    expect(events[1]).toMatchObject({ eventId: joined.eventIds[0], occurredAt: '2018-01-01' });
    const correction = events[2] as EventEnvelope;
    expect(correction.type).toBe('MembershipCorrected');
    expect(correction.data).toMatchObject({
      correctsEventId: joined.eventIds[0],
      organisationId: 'lycee-agricole',
      fields: { joinedAt: '2018-01-10' },
    });
    // Its valid time is the moment it was recorded, not the corrected date.
    const at = Date.parse(correction.occurredAt);
    expect(at).toBeGreaterThanOrEqual(started - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
  });

  test('a retraction is recorded once; retracting the same event again is 409', async () => {
    const p = 'retracting';
    await send(server, valCoop.register(p), secretary);
    const joined = expectWritten(await send(server, valCoop.joinCcVal(p), secretary), 201, 1);
    const retract = {
      method: 'POST' as const,
      url: `/v1/ptces/${p}/retractions`,
      payload: { eventId: joined.eventIds[0], reason: 'saisi par erreur' },
    };
    expectWritten(await send(server, retract, secretary), 200, 2, {
      retractedEventId: joined.eventIds[0] as string,
    });
    const again = await send(
      server,
      { ...retract, payload: { ...retract.payload, reason: 'encore' } },
      secretary,
    );
    expectProblem(again, 409, 'already_retracted');
    const events = await membership(p);
    expect(events.map((e) => e.type)).toEqual(['PtceRegistered', 'MemberJoined', 'EventRetracted']);
    // The retracted record is still there, unchanged: nothing is ever deleted.
    expect(events[1]?.eventId).toBe(joined.eventIds[0]);
    // Once retracted, cc-val never joined: it may join again.
    expect((await send(server, valCoop.joinCcVal(p, '2019-01-01'), secretary)).statusCode).toBe(201);
  });
});
