import { expectProblem as expectProblemAnswer, type TestServer } from '@ptce/testing';
import { expect } from 'vitest';

export type Response = Awaited<ReturnType<TestServer['app']['inject']>>;
type Injectable = Pick<TestServer, 'app'>;

export type Method = 'POST' | 'PATCH';

export interface Call {
  readonly method: Method;
  readonly url: string;
  readonly payload: Record<string, unknown>;
}

export function send(
  server: Injectable,
  call: Call,
  auth: string | undefined,
  headers: Record<string, string> = {},
): Promise<Response> {
  return server.app.inject({
    method: call.method,
    url: call.url,
    headers: { ...(auth === undefined ? {} : { authorization: auth }), ...headers },
    payload: call.payload,
  });
}

/** The facts of the val-coop scenario (a copy: tests never read /work/shared). */
export const valCoop = {
  register: (ptceId: string): Call => ({
    method: 'POST',
    url: '/v1/ptces',
    payload: {
      ptceId,
      name: 'Val de Sèvre Coopérations',
      territory: { name: 'Pays du Val (fictif)', department: '79', rural: true },
      pilot: {
        organisationId: 'asso-mobilite',
        name: 'Mobilité Solidaire du Val',
        category: 'ess_enterprise',
      },
      occurredAt: '2017-03-01',
      evidence: { source: 'compte rendu de la réunion de lancement' },
    },
  }),
  joinCcVal: (ptceId: string, occurredAt = '2017-06-15'): Call => ({
    method: 'POST',
    url: `/v1/ptces/${ptceId}/members`,
    payload: {
      organisationId: 'cc-val',
      name: 'Communauté de communes du Val',
      category: 'local_authority',
      occurredAt,
    },
  }),
  joinLycee: (ptceId: string): Call => ({
    method: 'POST',
    url: `/v1/ptces/${ptceId}/members`,
    payload: {
      organisationId: 'lycee-agricole',
      name: 'Lycée agricole du Val',
      category: 'training_body',
      occurredAt: '2018-01-01',
    },
  }),
  legalEntity: (ptceId: string): Call => ({
    method: 'POST',
    url: `/v1/ptces/${ptceId}/legal-entity`,
    payload: { name: 'SCIC Val Coopérations', legalForm: 'scic', occurredAt: '2021-06-01' },
  }),
  associate: (ptceId: string, organisationId = 'asso-mobilite'): Call => ({
    method: 'POST',
    url: `/v1/ptces/${ptceId}/legal-entity/associates`,
    payload: { organisationId, college: 'fondateurs', occurredAt: '2021-06-15' },
  }),
  recognition: (ptceId: string): Call => ({
    method: 'POST',
    url: `/v1/ptces/${ptceId}/recognitions`,
    payload: { programme: 'PTCE émergents', grantor: 'État', amountEur: 100000, occurredAt: '2021-09-01' },
  }),
};

/** RFC 9457 body with our stable code; nothing of the request's happy path. */
export function expectProblem(res: Response, status: number, code: string): Record<string, unknown> {
  // Status first: a body that is no JSON then fails on the status, which says more.
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json() as Record<string, unknown>;
  expectProblemAnswer({ status: res.statusCode, body, headers: res.headers }, status, code);
  expect((body.title as string).length).toBeGreaterThan(0);
  expect((body.detail as string).length).toBeGreaterThan(0);
  expect(res.headers.etag).toBeUndefined();
  return body;
}

/** A 400 whose `errors` name exactly these fields (dotted paths), in any order. */
export function expectFieldErrors(res: Response, fields: readonly string[]): void {
  const body = expectProblem(res, 400, 'validation_failed');
  const errors = body.errors as { path: string; message: string }[];
  expect(Array.isArray(errors)).toBe(true);
  expect([...new Set(errors.map((e) => e.path))].sort()).toEqual([...fields].sort());
  for (const error of errors) expect(error.message.length).toBeGreaterThan(0);
}

/** A write's success: status, ids, ordered position, revision and the matching ETag. */
export function expectWritten(
  res: Response,
  status: 200 | 201,
  revision: number,
  ids: Record<string, string> = {},
): { eventIds: string[]; position: string; revision: number } {
  expect(res.statusCode, res.body).toBe(status);
  const body = res.json() as { eventIds: string[]; position: string; revision: number } & Record<
    string,
    unknown
  >;
  expect(body.eventIds.length).toBeGreaterThan(0);
  for (const id of body.eventIds)
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  expect(typeof body.position).toBe('string');
  expect(body.revision).toBe(revision);
  expect(res.headers.etag).toBe(`"${revision}"`);
  expect(body).toMatchObject(ids);
  return body;
}
