import { createHash } from 'node:crypto';
import fs from 'node:fs';
import {
  failedChecks,
  runScenarioChecks,
  runScenarioSteps,
  type Scenario,
  type Send,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

// The repository's copy of the shared scenario: tests never read outside the repository.
const scenario = JSON.parse(
  fs.readFileSync(new URL('../../../test/scenarios/val-coop.json', import.meta.url), 'utf8'),
) as Scenario;

/** The scenario's writes, one NDJSON line each, in order (the marks are instants, not writes). */
const writes = scenario.steps.filter((step) => step.method !== null && step.path !== null);
const ndjson = (steps: typeof writes) =>
  `${steps.map((s) => JSON.stringify({ method: s.method, path: s.path, body: s.body })).join('\n')}\n`;
const valCoopFile = ndjson(writes);
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface LineResult {
  line: number;
  status: number;
  idempotencyKey?: string;
  replayed?: true;
  result?: Record<string, unknown>;
  wouldRecord?: string[];
  problem?: { code: string; detail: string; errors?: { path: string; in?: string }[] };
}
interface Report {
  dryRun: boolean;
  lines: number;
  recorded: number;
  replayed: number;
  refused: number;
  results: LineResult[];
}

async function importFile(
  server: TestServer,
  authorization: string,
  text: string,
  query = '',
  ptceId = 'val-coop',
): Promise<{ status: number; body: Report & { code?: string; detail?: string } }> {
  const res = await server.app.inject({
    method: 'POST',
    url: `/v1/ptces/${ptceId}/imports${query}`,
    headers: { authorization, 'content-type': 'application/x-ndjson' },
    payload: text,
  });
  return { status: res.statusCode, body: res.json() };
}

/** The PTCE's events as the audit trail lists them. */
async function eventsOf(server: TestServer, ptceId = 'val-coop') {
  const res = await server.app.inject({
    method: 'GET',
    url: `/v1/audit/ptces/${ptceId}/events?limit=1000`,
    headers: { authorization: await server.bearer('admin') },
  });
  if (res.statusCode === 404) return [];
  expect(res.statusCode).toBe(200);
  return (res.json() as { events: Record<string, unknown>[] }).events;
}

/** Events whose `occurredAt` is their recording instant: corrections and retractions act in transaction time. */
const TRANSACTION_TIME = /(Corrected|Retracted)$/;

/**
 * What the events say, apart from what differs between two recordings of the same facts: ids
 * given by the server (an event another names is named by its place in the list), instants and
 * positions of recording, hashes, the request that carried them.
 */
function factsOf(events: readonly Record<string, unknown>[]) {
  const placeOf = new Map(events.map((event, i) => [event.eventId, `event #${i}`]));
  const named = (value: unknown): unknown => {
    if (typeof value === 'string') return placeOf.get(value) ?? value;
    if (Array.isArray(value)) return value.map(named);
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, named(v)]));
    }
    return value;
  };
  return events.map((event) => {
    const {
      eventId: _eventId,
      recordedAt: _recordedAt,
      position: _position,
      hash: _hash,
      prevHash: _prevHash,
      correlationId: _correlationId,
      idempotencyKey: _idempotencyKey,
      occurredAt,
      data,
      ...fact
    } = event;
    return {
      ...fact,
      data: named(data),
      ...(TRANSACTION_TIME.test(String(event.type)) ? {} : { occurredAt }),
    };
  });
}

describe('importing the val-coop history in one file', () => {
  let imported: TestServer;
  let viaRest: TestServer;
  let report: Report;
  let authorization: string;

  beforeAll(async () => {
    [imported, viaRest] = await Promise.all([startTestServer(), startTestServer()]);
    authorization = await imported.bearer('secretary', ['val-coop']);
    const answer = await importFile(imported, authorization, valCoopFile);
    expect(answer.status).toBe(200);
    report = answer.body;
    const restAuthorization = await viaRest.bearer('secretary', ['val-coop']);
    const send: Send = async ({ method, path, body }) => {
      const res = await viaRest.app.inject({
        method: method as 'POST',
        url: path,
        headers: { authorization: restAuthorization },
        ...(body === null || body === undefined ? {} : { payload: body as object }),
      });
      return { status: res.statusCode, body: res.body ? res.json() : null };
    };
    await runScenarioSteps(scenario, send);
  });
  afterAll(async () => {
    await Promise.all([imported?.close(), viaRest?.close()]);
  });

  test('each line answers what the scenario expects of its request, numbered as in the file', () => {
    expect(report.lines).toBe(writes.length);
    expect(report.results.map((r) => r.line)).toEqual(writes.map((_, i) => i + 1));
    expect(report.results.map((r) => r.status)).toEqual(writes.map((s) => s.expect));
    const refusals = writes.filter((s) => (s.expect ?? 0) >= 400).length;
    expect(report).toMatchObject({
      dryRun: false,
      refused: refusals,
      recorded: writes.length - refusals,
      replayed: 0,
    });
    // A refusal names what is wrong, as the route itself would.
    const invalid = report.results.find((r) => r.status === 400);
    expect(invalid?.problem?.code).toBe('validation_failed');
    expect(invalid?.problem?.errors?.[0]?.in).toBe('body');
    expect(report.results[0]?.result).toMatchObject({ ptceId: 'val-coop', revision: 0 });
    expect(report.results[0]?.idempotencyKey).toBe(`import:${sha256(valCoopFile)}:1`);
  });

  test('records the same events as the same writes sent one request at a time', async () => {
    const [byImport, byRest] = await Promise.all([eventsOf(imported), eventsOf(viaRest)]);
    expect(byImport.length).toBeGreaterThan(40);
    expect(factsOf(byImport)).toEqual(factsOf(byRest));
  });

  test('answers every check of the scenario not pinned between two of its steps', async () => {
    const checks = scenario.checks.filter((check) => !check.path.includes('{{'));
    expect(checks.length).toBeGreaterThan(15);
    const get = async (path: string) => {
      const res = await imported.app.inject({ method: 'GET', url: path, headers: { authorization } });
      return { status: res.statusCode, body: res.json() as unknown };
    };
    expect(failedChecks(await runScenarioChecks(checks, {}, get))).toEqual([]);
  });

  test('the same file sent again records nothing: every line answers as the first time', async () => {
    const before = await eventsOf(imported);
    const again = await importFile(imported, authorization, valCoopFile);
    expect(again.status).toBe(200);
    const written = report.results.filter((r) => r.status < 400);
    expect(again.body).toMatchObject({ recorded: 0, replayed: written.length });
    for (const first of written) {
      expect(again.body.results[first.line - 1]).toEqual({ ...first, replayed: true });
    }
    expect(await eventsOf(imported)).toHaveLength(before.length);
  });
});

describe('an import interrupted, then sent again', () => {
  let server: TestServer;
  let authorization: string;
  beforeAll(async () => {
    server = await startTestServer();
    authorization = await server.bearer('secretary', ['val-coop']);
  });
  afterAll(() => server?.close());

  test('a file cut in the middle and sent whole again records every fact once', async () => {
    const lines = valCoopFile.split('\n');
    const cut = lines.slice(0, 23).join('\n');
    // The first part, sent as part of the whole file: its lines keep the whole file's keys.
    const first = await importFile(server, authorization, cut, `?source=${sha256(valCoopFile)}&firstLine=1`);
    expect(first.status).toBe(200);
    expect(first.body.recorded).toBe(23);
    const whole = await importFile(server, authorization, valCoopFile);
    expect(whole.status).toBe(200);
    expect(whole.body.replayed).toBe(23);
    expect(whole.body.results.slice(0, 23).every((r) => r.replayed)).toBe(true);
    expect(whole.body.results.map((r) => r.status)).toEqual(writes.map((s) => s.expect));

    const reference = await startTestServer();
    try {
      const once = await importFile(
        reference,
        await reference.bearer('secretary', ['val-coop']),
        valCoopFile,
      );
      expect(once.status).toBe(200);
      expect(factsOf(await eventsOf(server))).toEqual(factsOf(await eventsOf(reference)));
    } finally {
      await reference.close();
    }
  });

  test('a line with its own key keeps it: sent again in another file, it is answered as before', async () => {
    const line = (key: string) =>
      JSON.stringify({
        method: 'POST',
        path: '/v1/ptces/val-coop/recognitions',
        body: { programme: 'Fonds territorial', grantor: 'Région (fictive)', occurredAt: '2024-02-01' },
        idempotencyKey: key,
      });
    const first = await importFile(server, authorization, line('grant-2024'));
    const second = await importFile(server, authorization, `\n\n${line('grant-2024')}\n`);
    expect(first.body.results[0]).toMatchObject({ status: 201, idempotencyKey: 'grant-2024' });
    expect(second.body.results).toEqual([{ ...first.body.results[0], line: 3, replayed: true }]);
  });
});

describe('a dry run', () => {
  let server: TestServer;
  let authorization: string;
  beforeAll(async () => {
    server = await startTestServer();
    authorization = await server.bearer('secretary', ['val-coop']);
  });
  afterAll(() => server?.close());

  test('decides every line in turn, as the real import would, and records nothing', async () => {
    const dry = await importFile(server, authorization, valCoopFile, '?dryRun=true');
    expect(dry.status).toBe(200);
    expect(dry.body.dryRun).toBe(true);
    expect(dry.body.results.map((r) => r.status)).toEqual(writes.map((s) => s.expect));
    expect(dry.body.results[0]?.wouldRecord).toEqual(['PtceRegistered']);
    expect(dry.body.results[1]?.wouldRecord).toEqual(['MemberJoined']);
    expect(await eventsOf(server)).toEqual([]);
    // The real import then answers line for line what the dry run said.
    const real = await importFile(server, authorization, valCoopFile);
    expect(real.body.results.map((r) => r.status)).toEqual(dry.body.results.map((r) => r.status));
  });

  test('on a history already imported, lines answered before are said to be replayed', async () => {
    const dry = await importFile(server, authorization, valCoopFile, '?dryRun=true');
    expect(dry.body.results.find((r) => !r.replayed && r.status < 400)).toBeUndefined();
    expect(dry.body.recorded).toBe(0);
    expect(dry.body.replayed).toBe(writes.filter((s) => (s.expect ?? 0) < 400).length);
  });
});

describe('what an import refuses', () => {
  let server: TestServer;
  let authorization: string;
  const register = JSON.stringify({ method: 'POST', path: '/v1/ptces', body: writes[0]?.body });
  beforeAll(async () => {
    server = await startTestServer({ IMPORT_MAX_LINES: '5', IMPORT_BODY_LIMIT: '4096' });
    authorization = await server.bearer('secretary', ['val-coop']);
  });
  afterAll(() => server?.close());

  test('a line that is no JSON write, of another PTCE or of no route is refused alone, naming what is wrong', async () => {
    const file = [
      register,
      '{"method": "POST", "path": "/v1/ptces/val-coop/members", "body": ',
      JSON.stringify({ method: 'POST', path: '/v1/ptces/other/members', body: {} }),
      JSON.stringify({ method: 'POST', path: '/v1/ptces/val-coop/nowhere', body: {} }),
      JSON.stringify({ method: 'GET', path: '/v1/ptces/val-coop/stage', body: {} }),
    ].join('\n');
    const answer = await importFile(server, authorization, file);
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((r) => [r.status, r.problem?.code])).toEqual([
      [201, undefined],
      [400, 'malformed_body'],
      [422, 'line_outside_ptce'],
      [404, 'unknown_route'],
      [400, 'validation_failed'],
    ]);
    expect(answer.body.results[4]?.problem?.errors).toEqual([
      expect.objectContaining({ path: 'method', in: 'line' }),
    ]);
  });

  test('a key given twice in one file: the same write answers as the first, another write is refused', async () => {
    const grant = (programme: string) =>
      JSON.stringify({
        method: 'POST',
        path: '/v1/ptces/val-coop/recognitions',
        body: { programme, grantor: 'État', occurredAt: '2024-01-01' },
        idempotencyKey: `twice-${programme === 'Fonds B' ? 'Fonds A' : programme}`,
      });
    const before = await eventsOf(server);
    const answer = await importFile(
      server,
      authorization,
      [grant('Fonds A'), grant('Fonds A'), grant('Fonds B')].join('\n'),
    );
    expect(answer.body.results.map((r) => [r.status, r.replayed ?? false, r.problem?.code])).toEqual([
      [201, false, undefined],
      [201, true, undefined],
      [422, false, 'idempotency_key_reused'],
    ]);
    expect(answer.body.results[1]?.result).toEqual(answer.body.results[0]?.result);
    expect(await eventsOf(server)).toHaveLength(before.length + 1);
    const dry = await importFile(
      server,
      authorization,
      [grant('Fonds C'), grant('Fonds C')].join('\n'),
      '?dryRun=true',
    );
    expect(dry.body.results.map((r) => [r.status, r.replayed ?? false])).toEqual([
      [201, false],
      [201, true],
    ]);
  });

  test('a key that is not printable ASCII is refused on its line, the others go on', async () => {
    const line = (key: string, programme: string) =>
      JSON.stringify({
        method: 'POST',
        path: '/v1/ptces/val-coop/recognitions',
        body: { programme, grantor: 'État', occurredAt: '2024-01-01' },
        idempotencyKey: key,
      });
    const answer = await importFile(
      server,
      authorization,
      [line('clé-\ud800', 'Fonds D'), line('cle-ok', 'Fonds E')].join('\n'),
    );
    expect(answer.status).toBe(200);
    expect(answer.body.results.map((r) => [r.status, r.problem?.errors?.[0]?.path])).toEqual([
      [400, 'idempotencyKey'],
      [201, undefined],
    ]);
  });

  test('more lines than a request may hold: 413 naming the limit, nothing recorded', async () => {
    const file = Array.from({ length: 6 }, (_, i) =>
      JSON.stringify({
        method: 'POST',
        path: '/v1/ptces/val-coop/recognitions',
        body: { programme: `Programme ${i}`, grantor: 'État', occurredAt: '2024-01-01' },
      }),
    ).join('\n');
    const before = await eventsOf(server);
    const answer = await importFile(server, authorization, file);
    expect(answer.status).toBe(413);
    expect(answer.body).toMatchObject({ code: 'too_many_lines', maxLines: 5, lines: 6 });
    expect(await eventsOf(server)).toHaveLength(before.length);
  });

  test('a body above IMPORT_BODY_LIMIT: 413, nothing recorded', async () => {
    const before = await eventsOf(server);
    const line = JSON.stringify({
      method: 'POST',
      path: '/v1/ptces/val-coop/recognitions',
      body: { programme: 'x'.repeat(200), grantor: 'État', occurredAt: '2024-01-01' },
    });
    const answer = await importFile(
      server,
      authorization,
      Array.from({ length: 5 }, () => line)
        .join('\n')
        .padEnd(5000),
    );
    expect(answer.status).toBe(413);
    expect(answer.body.code).toBe('payload_too_large');
    expect(await eventsOf(server)).toHaveLength(before.length);
  });

  test('an empty file, a bad query, or a body that is not NDJSON is a 4xx', async () => {
    expect((await importFile(server, authorization, '\n\n')).body.code).toBe('empty_import');
    expect((await importFile(server, authorization, register, '?firstLine=0')).status).toBe(400);
    expect((await importFile(server, authorization, register, '?source=abc')).status).toBe(400);
    const json = await server.app.inject({
      method: 'POST',
      url: '/v1/ptces/val-coop/imports',
      headers: { authorization, 'content-type': 'text/csv' },
      payload: 'a,b',
    });
    expect(json.statusCode).toBe(415);
  });

  test('only a secretary or an admin of the PTCE imports into it', async () => {
    for (const [role, ptces] of [
      ['auditor', ['val-coop']],
      ['funder', ['val-coop']],
      ['secretary', ['another']],
    ] as const) {
      const answer = await importFile(server, await server.bearer(role, ptces), register);
      expect(answer.status).toBe(403);
    }
    const anonymous = await server.app.inject({
      method: 'POST',
      url: '/v1/ptces/val-coop/imports',
      headers: { 'content-type': 'application/x-ndjson' },
      payload: register,
    });
    expect(anonymous.statusCode).toBe(401);
  });

  test("a line keeps its route's own roles: an erasure by a secretary is refused, an admin's runs", async () => {
    const person = JSON.stringify({
      method: 'POST',
      path: '/v1/ptces/val-coop/members',
      body: {
        organisationId: 'jeanne',
        name: 'Jeanne Martin',
        category: 'natural_person',
        occurredAt: '2018-02-01',
      },
    });
    const erasure = JSON.stringify({
      method: 'POST',
      path: '/v1/ptces/val-coop/members/jeanne/erasure',
      body: { reason: "demande d'effacement" },
    });
    const bySecretary = await importFile(server, authorization, `${person}\n${erasure}`);
    expect(bySecretary.body.results.map((r) => [r.status, r.problem?.code])).toEqual([
      [201, undefined],
      [403, 'role_forbidden'],
    ]);
    const byAdmin = await importFile(server, await server.bearer('admin'), erasure);
    expect(byAdmin.body.results[0]?.status).toBe(200);
    const member = await server.app.inject({
      method: 'GET',
      url: '/v1/ptces/val-coop',
      headers: { authorization },
    });
    const jeanne = (
      member.json() as { members: { organisationId: string; name?: string; erased?: boolean }[] }
    ).members.find((m) => m.organisationId === 'jeanne');
    expect(jeanne?.name).toBeUndefined();
  });
});
