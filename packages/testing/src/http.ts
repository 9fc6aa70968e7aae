import { expect } from 'vitest';
import type { TestServer } from './server.ts';

export interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Record<string, unknown>;
}

export interface Client {
  send(
    method: 'POST' | 'PATCH',
    url: string,
    payload: unknown,
    headers?: Record<string, string>,
  ): Promise<Answer>;
}

/** Requests as one caller; `authorization: ''` in `headers` sends none. */
export function clientFor(server: TestServer, authorization: string): Client {
  return {
    async send(method, url, payload, headers = {}) {
      const all: Record<string, string> = { authorization, ...headers };
      if (all.authorization === '') delete all.authorization;
      const res = await server.app.inject({ method, url, payload: payload as object, headers: all });
      return { status: res.statusCode, body: res.json(), headers: res.headers };
    },
  };
}

/** A fresh PTCE registered on 2020-01-01 by `asso`, with `cc` and `garage` joining on 2020-02-01. */
export async function seedPtce(client: Client, ptceId: string): Promise<void> {
  const steps: [string, unknown][] = [
    [
      '/v1/ptces',
      {
        ptceId,
        name: `PTCE ${ptceId}`,
        territory: { name: 'Pays test' },
        pilot: { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise' },
        occurredAt: '2020-01-01',
      },
    ],
    [
      `/v1/ptces/${ptceId}/members`,
      { organisationId: 'cc', name: 'CC', category: 'local_authority', occurredAt: '2020-02-01' },
    ],
    [
      `/v1/ptces/${ptceId}/members`,
      { organisationId: 'garage', name: 'Garage', category: 'enterprise', occurredAt: '2020-02-01' },
    ],
  ];
  for (const [url, body] of steps) {
    const answer = await client.send('POST', url, body);
    expect(answer.status, JSON.stringify(answer.body)).toBe(201);
  }
}

/** A problem+json refusal with that status and code. */
export function expectProblem(answer: Answer, status: number, code: string): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(String(answer.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(answer.body).toMatchObject({ status, code });
  expect(answer.body.type).toEqual(expect.stringContaining(code));
  expect(typeof answer.body.title).toBe('string');
  expect(typeof answer.body.detail).toBe('string');
}

/** A write's success: status, the ETag naming the revision, the ids of the events recorded. */
export function expectWritten(answer: Answer, status: number, fields: Record<string, unknown>): void {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  expect(answer.body).toMatchObject(fields);
  expect(answer.body.eventIds).toEqual([expect.any(String)]);
  expect(typeof answer.body.position).toBe('string');
  expect(answer.headers.etag).toBe(`"${String(answer.body.revision)}"`);
}

export const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;

export type WriteCaller = 'none' | 'auditor' | 'funder' | 'outOfScope' | 'admin';

/** A write route to call: method, url, body, and the status an allowed caller gets. */
export type WriteRoute = [
  method: 'POST' | 'PATCH',
  url: string,
  body: Record<string, unknown>,
  status: number,
];

/**
 * The callers a write route must refuse on `ptceId` (no token, read-only roles, a secretary of
 * another PTCE), and an admin scoped elsewhere, who must pass: scope does not bind an admin.
 */
export async function writeCallers(server: TestServer, ptceId: string): Promise<Record<WriteCaller, Client>> {
  return {
    none: clientFor(server, ''),
    auditor: clientFor(server, await server.bearer('auditor', [ptceId])),
    funder: clientFor(server, await server.bearer('funder', [ptceId])),
    outOfScope: clientFor(server, await server.bearer('secretary', ['another-ptce'])),
    admin: clientFor(server, await server.bearer('admin', ['another-ptce'])),
  };
}

/** Refused with no token, as auditor, funder or out-of-scope secretary, recording nothing in `stream`; the admin's call records one event. */
export async function expectWritersOnly(
  server: TestServer,
  callers: Record<WriteCaller, Client>,
  stream: string,
  [method, url, body, status]: WriteRoute,
): Promise<void> {
  const before = await server.app.eventStore.readStream(stream);
  const none = await callers.none.send(method, url, body);
  expectProblem(none, 401, 'unauthorized');
  expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
  expectProblem(await callers.auditor.send(method, url, body), 403, 'role_forbidden');
  expectProblem(await callers.funder.send(method, url, body), 403, 'role_forbidden');
  expectProblem(await callers.outOfScope.send(method, url, body), 403, 'out_of_scope');
  expect(await server.app.eventStore.readStream(stream)).toHaveLength(before.length);

  const admin = await callers.admin.send(method, url, body);
  expect(admin.status, JSON.stringify(admin.body)).toBe(status);
  expect(admin.body.eventIds).toEqual([expect.any(String)]);
  expect(await server.app.eventStore.readStream(stream)).toHaveLength(before.length + 1);
}
