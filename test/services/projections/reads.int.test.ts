import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError } from '@ptce/platform';
import { loadStageRules } from '@ptce/projections-service';
import {
  type Answer,
  clientFor,
  expectProblem,
  seedPtce,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

let server: TestServer;
let secretary: string;

/** A GET as a caller; `headers` added to the bearer token. */
async function get(
  url: string,
  authorization = secretary,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const res = await server.app.inject({ method: 'GET', url, headers: { authorization, ...headers } });
  return { status: res.statusCode, body: res.body ? res.json() : {}, headers: res.headers };
}

beforeAll(async () => {
  server = await startTestServer();
  secretary = await server.bearer('secretary', ['p1', 'p-future']);
  const writer = clientFor(server, secretary);
  // p1: registered on 2020-01-01 by asso; cc and garage join on 2020-02-01.
  await seedPtce(writer, 'p1');
  const future = await writer.send('POST', '/v1/ptces', {
    ptceId: 'p-future',
    name: 'PTCE à venir',
    territory: { name: 'Pays test' },
    pilot: { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise' },
    occurredAt: '2024-01-01',
  });
  expect(future.status, JSON.stringify(future.body)).toBe(201);
});
afterAll(() => server.close());

describe('query parameters', () => {
  test('an impossible date is a 400 naming the query parameter', async () => {
    for (const [param, value] of [
      ['asOf', '2019-02-30'],
      ['asOf', '2019-13-01'],
      ['knownAt', '2019-02-30'],
    ] as const) {
      const answer = await get(`/v1/ptces/p1/stage?${param}=${value}`);
      expectProblem(answer, 400, 'validation_failed');
      expect(answer.body.errors).toEqual([expect.objectContaining({ path: param, in: 'querystring' })]);
    }
  });

  test('knownAt and atPosition together are a 400 naming atPosition', async () => {
    const answer = await get('/v1/ptces/p1/stage?knownAt=2020-01-01&atPosition=00000000000000000001');
    expectProblem(answer, 400, 'validation_failed');
    expect(answer.body.errors).toEqual([expect.objectContaining({ path: 'atPosition', in: 'querystring' })]);
    expectProblem(
      await get('/v1/ptces/p1/stage/timeline?knownAt=2020-01-01&atPosition=00000000000000000001'),
      400,
      'validation_failed',
    );
  });

  test('asOf as a date is the end of that Paris day; as an instant, that instant', async () => {
    // The partners join on 2020-02-01 (a date: from 00:00 Paris, i.e. 2020-01-31T23:00Z).
    const day = await get('/v1/ptces/p1/stage?asOf=2020-01-31');
    expect(day.body).toMatchObject({ stage: 'individual_impulse', asOf: '2020-01-31' });
    const before = await get('/v1/ptces/p1/stage?asOf=2020-01-31T22:59:59Z');
    expect(before.body.stage).toBe('individual_impulse');
    const after = await get('/v1/ptces/p1/stage?asOf=2020-01-31T23:00:00Z');
    expect(after.body.stage).toBe('divided_groups');
  });

  test('windowMonths is a whole number from 1 to 120, 12 by default', async () => {
    for (const value of ['0', '121', '1.5', 'abc']) {
      const answer = await get(`/v1/ptces/p1/participation?windowMonths=${value}`);
      expectProblem(answer, 400, 'validation_failed');
      expect(answer.body.errors).toEqual([
        expect.objectContaining({ path: 'windowMonths', in: 'querystring' }),
      ]);
    }
    const byDefault = await get('/v1/ptces/p1/participation?asOf=2021-03-01');
    expect(byDefault.body).toMatchObject({ window: { from: '2020-03-01', to: '2021-03-01', months: 12 } });
    const two = await get('/v1/ptces/p1/participation?asOf=2021-03-01&windowMonths=2');
    expect(two.body).toMatchObject({ window: { months: 2 } });
  });

  test('knownAt before any record is a 404: the registration is not in that prefix', async () => {
    expectProblem(await get('/v1/ptces/p1/stage?knownAt=2001-01-01'), 404, 'ptce_not_found');
  });
});

describe('who may read', () => {
  test('secretary, auditor and admin read; a funder and a caller out of scope are refused', async () => {
    expect((await get('/v1/ptces/p1/stage', await server.bearer('auditor', ['p1']))).status).toBe(200);
    expect((await get('/v1/ptces/p1/stage', await server.bearer('admin', ['*']))).status).toBe(200);
    const funder = await server.bearer('funder', ['p1']);
    expectProblem(await get('/v1/ptces/p1/stage', funder), 403, 'role_forbidden');
    expectProblem(await get('/v1/ptces', funder), 403, 'role_forbidden');
    const elsewhere = await server.bearer('secretary', ['another']);
    for (const url of ['/v1/ptces/p1/stage', '/v1/ptces/p1/stage/timeline', '/v1/ptces/p1']) {
      expectProblem(await get(url, elsewhere), 403, 'out_of_scope');
    }
    // Unknown and out of scope: still 403, never a hint of what exists.
    expectProblem(await get('/v1/ptces/nowhere/stage', elsewhere), 403, 'out_of_scope');
    const res = await server.app.inject({ method: 'GET', url: '/v1/ptces/p1/stage' });
    expectProblem({ status: res.statusCode, body: res.json(), headers: res.headers }, 401, 'unauthorized');
  });

  test('an unknown PTCE in scope is a 404 ptce_not_found', async () => {
    const wide = await server.bearer('secretary', ['*']);
    for (const url of ['/v1/ptces/nowhere/stage', '/v1/ptces/nowhere/stage/timeline', '/v1/ptces/nowhere']) {
      expectProblem(await get(url, wide), 404, 'ptce_not_found');
    }
  });
});

describe('answers', () => {
  test('the stage answer has its fields; a PTCE registered after asOf has not started', async () => {
    const answer = await get('/v1/ptces/p1/stage?asOf=2020-03-01');
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      stage: 'divided_groups',
      label: { fr: 'Groupes divisés', en: 'Divided groups' },
      since: '2020-02-01',
      stalled: false,
      core: [],
      periphery: [],
      outside: ['asso', 'cc', 'garage'],
      rulesVersion: 'stage-rules/v1',
      asOf: '2020-03-01',
      warnings: [],
    });
    expect(answer.body.criteria).toContainEqual({ id: 'min_partners', holds: true, value: 2, threshold: 2 });
    expect(typeof answer.body.position).toBe('string');
    expect(typeof answer.body.knownAt).toBe('string');

    const future = await get('/v1/ptces/p-future/stage?asOf=2023-06-01');
    expect(future.status).toBe(200);
    expect(future.body).toMatchObject({ stage: 'not_started', since: null });
  });

  test('the timeline lists each stage from the day it was reached, with its cause', async () => {
    const answer = await get('/v1/ptces/p1/stage/timeline');
    expect(answer.status).toBe(200);
    expect(answer.body.entries).toEqual([
      expect.objectContaining({
        stage: 'individual_impulse',
        from: '2020-01-01',
        to: '2020-02-01',
        cause: { eventId: expect.any(String), type: 'PtceRegistered' },
      }),
      expect.objectContaining({
        stage: 'divided_groups',
        from: '2020-02-01',
        to: null,
        cause: { eventId: expect.any(String), type: 'MemberJoined' },
      }),
    ]);
    expect(answer.body).toMatchObject({ rulesVersion: 'stage-rules/v1', warnings: [] });
  });

  test("the PTCE's state at asOf: members with pilot and associate flags, spaces, legal entity", async () => {
    const before = await get('/v1/ptces/p1?asOf=2020-01-15');
    expect(before.body).toMatchObject({
      ptceId: 'p1',
      name: 'PTCE p1',
      registered: true,
      members: [
        { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise', pilot: true, associate: false },
      ],
      spaces: [],
      activities: [],
      legalEntity: null,
      recentDecisions: [],
      warnings: [],
      asOf: '2020-01-15',
    });
    const after = await get('/v1/ptces/p1?asOf=2020-02-01');
    expect((after.body.members as { organisationId: string }[]).map((m) => m.organisationId)).toEqual([
      'asso',
      'cc',
      'garage',
    ]);
    const early = await get('/v1/ptces/p-future?asOf=2023-06-01');
    expect(early.body).toMatchObject({ registered: false, members: [], registeredAt: '2024-01-01' });
  });

  test('GET /v1/ptces lists the PTCE in scope with their current stage', async () => {
    expect((await get('/v1/ptces')).body).toEqual([
      { ptceId: 'p-future', name: 'PTCE à venir', stage: 'individual_impulse' },
      { ptceId: 'p1', name: 'PTCE p1', stage: 'divided_groups' },
    ]);
    const onlyP1 = await server.bearer('auditor', ['p1', 'never-registered']);
    expect((await get('/v1/ptces', onlyP1)).body).toEqual([
      { ptceId: 'p1', name: 'PTCE p1', stage: 'divided_groups' },
    ]);
    const admin = await server.bearer('admin', ['*']);
    const all = (await get('/v1/ptces', admin)).body as unknown as { ptceId: string }[];
    expect(all.map((p) => p.ptceId)).toEqual(expect.arrayContaining(['p1', 'p-future']));
  });

  test('If-None-Match with the ETag is a 304; a write changes the ETag', async () => {
    const url = '/v1/ptces/p1/stage?asOf=2020-03-01';
    const first = await get(url);
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^".+"$/);
    const again = await get(url, secretary, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(again.headers.etag).toBe(etag);
    // A read of "now" names the Paris day too: its answer moves with the day alone.
    const now = await get('/v1/ptces/p1/stage');
    expect(String(now.headers.etag)).not.toBe(etag);
    expect(
      (await get('/v1/ptces/p1/stage', secretary, { 'if-none-match': String(now.headers.etag) })).status,
    ).toBe(304);
  });

  test('an answer at (asOf, atPosition) stays the same after more writes; knownAt now moves on', async () => {
    const url = '/v1/ptces/p1/stage?asOf=2021-01-01';
    const current = await get(url);
    const position = String(current.body.position);
    const pinned = await get(`${url}&atPosition=${position}`);
    expect(pinned.body).toMatchObject({ stage: 'divided_groups', position, knownAt: null });

    const writer = clientFor(server, secretary);
    const joined = await writer.send('POST', '/v1/ptces/p1/members', {
      organisationId: 'lycee',
      name: 'Lycée',
      category: 'training_body',
      occurredAt: '2020-06-01',
    });
    expect(joined.status, JSON.stringify(joined.body)).toBe(201);

    const later = await get(`${url}&atPosition=${position}`);
    expect(later.body).toEqual(pinned.body);
    expect(later.headers.etag).toBe(pinned.headers.etag);
    const moved = await get(url);
    expect(moved.body.position).not.toBe(position);
    expect(moved.body.outside).toContain('lycee');
    // knownAt at the first answer's instant still sees the log without the new member.
    const known = await get(`${url}&knownAt=${encodeURIComponent(String(current.body.knownAt))}`);
    expect(known.body).toMatchObject({ position, outside: ['asso', 'cc', 'garage'] });
  });

  test('the routes are in the OpenAPI document under the projections tag', async () => {
    const res = await server.app.inject({ method: 'GET', url: '/docs/json' });
    const doc = res.json() as { paths: Record<string, Record<string, { tags?: string[] }>> };
    for (const p of [
      '/v1/ptces/{ptceId}/stage',
      '/v1/ptces/{ptceId}/stage/timeline',
      '/v1/ptces/{ptceId}',
      '/v1/ptces/{ptceId}/legal-transition',
      '/v1/ptces/{ptceId}/eligibility',
      '/v1/ptces/{ptceId}/participation',
    ]) {
      expect(doc.paths[p]?.get?.tags, p).toEqual(['projections']);
    }
    expect(doc.paths['/v1/ptces']?.get?.tags).toEqual(['projections']);
  });
});

describe('STAGE_RULES', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-rules-'));
  const file = (name: string, text: string) => {
    const at = path.join(dir, name);
    fs.writeFileSync(at, text);
    return at;
  };
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a bad file is a ConfigError naming STAGE_RULES and the field', () => {
    const bad = file('bad.json', JSON.stringify({ minPartners: 0 }));
    expect(() => loadStageRules(bad)).toThrow(ConfigError);
    expect(() => loadStageRules(bad)).toThrow(/STAGE_RULES: .*bad\.json: minPartners/);
    expect(() => loadStageRules(file('unknown.json', '{"quorum": 1}'))).toThrow(/quorum/);
    expect(() => loadStageRules(file('text.json', 'not json'))).toThrow(/not valid JSON/);
    expect(() => loadStageRules(path.join(dir, 'missing.json'))).toThrow(/cannot be read/);
  });

  test('a server under other thresholds answers under its own rules version', async () => {
    const rules = file('rules.json', JSON.stringify({ minPartners: 3 }));
    const other = await startTestServer({ STAGE_RULES: rules });
    try {
      const bearer = await other.bearer('secretary', ['p1']);
      await seedPtce(clientFor(other, bearer), 'p1');
      const res = await other.app.inject({
        method: 'GET',
        url: '/v1/ptces/p1/stage?asOf=2020-03-01',
        headers: { authorization: bearer },
      });
      expect(res.json()).toMatchObject({
        stage: 'individual_impulse',
        rulesVersion: expect.stringMatching(/^stage-rules\/v1\+/),
      });
    } finally {
      await other.close();
    }
  });

  test('a server given a bad file does not start', async () => {
    const bad = file('bad2.json', JSON.stringify({ collectiveShare: 2 }));
    await expect(startTestServer({ STAGE_RULES: bad })).rejects.toThrow(/STAGE_RULES.*collectiveShare/s);
  });
});
