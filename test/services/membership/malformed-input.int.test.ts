import { castEventsToJsonb, startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectFieldErrors, expectWritten, type Response, valCoop } from './helpers.ts';

// Runs on SQLite and, in the 'postgres' project, on PostgreSQL: a NUL stored there breaks every
// `data::jsonb` over the events table, so what is refused must never reach it.
let server: TestServer;
let secretary: string;
const P = 'hostile';
beforeAll(async () => {
  server = await startTestServer();
  secretary = await server.bearer('secretary', ['*']);
  expectWritten(await raw('POST', '/v1/ptces', JSON.stringify(valCoop.register(P).payload)), 201, 0);
});
afterAll(() => server.close());

/** The body as given, byte for byte: JSON.stringify would never write some of these. */
function raw(method: 'POST' | 'PATCH', url: string, body: string, headers: Record<string, string> = {}) {
  return server.app.inject({
    method,
    url,
    headers: { authorization: secretary, 'content-type': 'application/json', ...headers },
    payload: body,
  });
}

const onPostgres = () => server.config.EVENT_STORE_URL.startsWith('postgres');
const stream = () => server.app.eventStore.readStream(`membership-${P}`);

async function expectNothingStored(before: number): Promise<void> {
  expect(await stream()).toHaveLength(before);
  if (onPostgres()) expect(await castEventsToJsonb(server.config.EVENT_STORE_URL)).toBeGreaterThan(0);
}

describe('malformed input (hostile-test defect 4)', () => {
  const join = (name: string) =>
    `{"organisationId":"org-x","name":"${name}","category":"enterprise","occurredAt":"2018-01-01"}`;

  test.each([
    [
      'a lone surrogate in a programme',
      'recognitions',
      '{"programme":"\\ud800","grantor":"État","occurredAt":"2021-09-01"}',
      'programme',
    ],
    ['a lone surrogate in a name', 'members', join('Coop \\udc00'), 'name'],
    ['a NUL in a name', 'members', join('Coop\\u0000Val'), 'name'],
    ['a C1 control in a name', 'members', join('Coop\\u0085Val'), 'name'],
    ['a newline in a name', 'members', join('Coop\\nVal'), 'name'],
    ['a bidi override in a name', 'members', join('\\u202eloV pooC'), 'name'],
    ['a bidi isolate in a name', 'members', join('Coop \\u2066Val\\u2069'), 'name'],
    ['a zero-width space in a name', 'members', join('Coop\\u200bVal'), 'name'],
    ['a byte order mark before a name', 'members', join('\\ufeffCoop'), 'name'],
    ['a word joiner in a name', 'members', join('Coop\\u2060Val'), 'name'],
    [
      'a NUL in evidence.note',
      'members',
      '{"organisationId":"org-x","name":"X","category":"enterprise","occurredAt":"2018-01-01","evidence":{"note":"a\\u0000b"}}',
      'evidence.note',
    ],
    [
      'a NUL in a registration id',
      'legal-entity',
      '{"name":"SCIC","legalForm":"scic","registrationId":"12\\u00003","occurredAt":"2021-01-05"}',
      'registrationId',
    ],
    [
      'a NUL in a college',
      'legal-entity/associates',
      '{"organisationId":"asso-mobilite","college":"\\u0000","occurredAt":"2021-01-05"}',
      'college',
    ],
  ])('%s is a 400 naming the field', async (_what, route, body, field) => {
    const before = (await stream()).length;
    const res = await raw('POST', `/v1/ptces/${P}/${route}`, body);
    expectFieldErrors(res, [field]);
    await expectNothingStored(before);
  });

  test('a lone surrogate, a NUL or a bidi override in a reason is refused on a retraction', async () => {
    const before = (await stream()).length;
    const retract = (reason: string) =>
      raw(
        'POST',
        `/v1/ptces/${P}/retractions`,
        `{"eventId":"0190c4e2-7b3a-7c1e-9f4d-2a6b8c0d1e3f","reason":"${reason}"}`,
      );
    for (const reason of ['saisie \\ud800', 'saisie\\u0000', 'saisie \\u202e']) {
      const res = await retract(reason);
      expectFieldErrors(res, ['reason']);
      expect(JSON.stringify(res.json())).toMatch(/U\+(D800|0000|202E)/);
    }
    await expectNothingStored(before);
  });

  test('a NUL in a territory, a département or a pilot name of a new PTCE is refused', async () => {
    const register = (territory: string, pilotName = 'Asso') =>
      raw(
        'POST',
        '/v1/ptces',
        `{"ptceId":"hostile-2","name":"P","territory":${territory},"pilot":{"organisationId":"a","name":"${pilotName}","category":"ess_enterprise"},"occurredAt":"2020-01-01"}`,
      );
    expectFieldErrors(await register('{"name":"T\\u0000"}'), ['territory.name']);
    expectFieldErrors(await register('{"name":"T","department":"7\\u00009"}'), ['territory.department']);
    expectFieldErrors(await register('{"name":"T"}', 'A\\u0000'), ['pilot.name']);
    expect(await server.app.eventStore.readStream('membership-hostile-2')).toEqual([]);
  });

  test('a NUL or any other character outside the slug alphabet in a path id is a 400 naming it', async () => {
    const body = JSON.stringify(valCoop.joinCcVal(P).payload);
    for (const id of ['p%001', 'p%E2%80%AE1', 'p%C2%85']) {
      const res = await raw('POST', `/v1/ptces/${id}/members`, body);
      expect(res.statusCode, res.body).toBe(400);
      expect(res.json().errors).toEqual([expect.objectContaining({ path: 'ptceId', in: 'params' })]);
    }
  });

  test('free text keeps its line breaks, tabs and emoji; names keep accents and other scripts', async () => {
    const res = await raw(
      'POST',
      `/v1/ptces/${P}/members`,
      JSON.stringify({
        organisationId: 'coop-sud',
        name: 'Coopérative du Sud — 南 合作社 🌾',
        category: 'enterprise',
        occurredAt: '2018-01-01',
        evidence: { source: 'courrier', note: 'ligne 1\nligne 2\tfin 👨\u200d👩\u200d👧' },
      }),
    );
    expect(res.statusCode, res.body).toBe(201);
    const stored = (await stream()).at(-1);
    expect(stored?.data.name).toBe('Coopérative du Sud — 南 合作社 🌾');
    expect(stored?.evidence?.note).toBe('ligne 1\nligne 2\tfin 👨\u200d👩\u200d👧');
    if (onPostgres()) expect(await castEventsToJsonb(server.config.EVENT_STORE_URL)).toBeGreaterThan(1);
  });
});

describe('malformed input (hostile-test defect 8d)', () => {
  test('__proto__ and constructor keys are 400s naming them as forbidden fields', async () => {
    const join = JSON.stringify(valCoop.joinLycee(P).payload).slice(0, -1);
    for (const [extra, path] of [
      [',"__proto__":{"category":"enterprise"}}', '__proto__'],
      [',"evidence":{"constructor":{"prototype":{}}}}', 'evidence.constructor'],
    ] as const) {
      const res = await raw('POST', `/v1/ptces/${P}/members`, join + extra);
      expectFieldErrors(res, [path]);
      expect(res.json().errors[0].message).toMatch(/forbidden field/);
    }
  });
});

describe('malformed input (hostile-test defect 8g)', () => {
  test('an encoded path and the plain one are the same request for an Idempotency-Key', async () => {
    const key = { 'idempotency-key': 'encoded-path' };
    const call = valCoop.joinLycee(P);
    const body = JSON.stringify(call.payload);
    const before = (await stream()).length;
    const encoded = await raw(
      'POST',
      `/v1/ptces/${[...P].map((c) => `%${c.charCodeAt(0).toString(16)}`).join('')}/members`,
      body,
      key,
    );
    expect(encoded.statusCode, encoded.body).toBe(201);
    const plain: Response = await raw('POST', call.url, body, key);
    expect(plain.statusCode, plain.body).toBe(201);
    expect(plain.json()).toEqual(encoded.json());
    expect(await stream()).toHaveLength(before + 1);
    // Another route under the same key is still another request.
    const elsewhere = await raw(
      'POST',
      `/v1/ptces/${P}/recognitions`,
      JSON.stringify(valCoop.recognition(P).payload),
      key,
    );
    expect(elsewhere.statusCode).toBe(422);
  });
});

describe('malformed input (hostile-test defect 8h)', () => {
  test('a year before 1900 is refused as too old, not as "not a real calendar date"', async () => {
    for (const occurredAt of ['0050-01-01', '0099-12-31', '1899-06-01']) {
      const res = await raw(
        'POST',
        `/v1/ptces/${P}/members`,
        JSON.stringify({ organisationId: 'old', name: 'Old', category: 'enterprise', occurredAt }),
      );
      expectFieldErrors(res, ['occurredAt']);
      const [error] = res.json().errors as { message: string }[];
      expect(error?.message).toMatch(/before 1900/);
      expect(error?.message).not.toMatch(/real calendar date/);
    }
    const unreal = await raw(
      'POST',
      `/v1/ptces/${P}/members`,
      JSON.stringify({
        organisationId: 'old',
        name: 'Old',
        category: 'enterprise',
        occurredAt: '0050-02-29',
      }),
    );
    expect(unreal.json().errors[0].message).toMatch(/real calendar date/);
  });
});

describe('malformed input (hostile-test defect 8i)', () => {
  test('a key given twice is a 400 naming it, whichever value would have won', async () => {
    const res = await raw(
      'POST',
      `/v1/ptces/${P}/members`,
      '{"organisationId":"dup","name":"Dup","category":"enterprise","category":"local_authority","occurredAt":"2018-01-01"}',
    );
    expectFieldErrors(res, ['category']);
    expect(res.json().errors[0].message).toMatch(/more than once/);
  });
});
