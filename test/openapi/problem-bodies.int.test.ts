import { startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * Refusals are documented with response schemas now, which Fastify compiles into serialisers:
 * none may strip or reshape what the error handler sends. Each body here is the whole answer, as
 * it was before the document described it.
 */
describe('refusals keep every member of their problem+json body', () => {
  let server: TestServer;
  let secretary: string;

  beforeAll(async () => {
    server = await startTestServer();
    secretary = await server.bearer('secretary');
  });
  afterAll(async () => server?.close());

  const register = (body: unknown, headers: Record<string, string> = {}) =>
    server.app.inject({
      method: 'POST',
      url: '/v1/ptces',
      headers: { authorization: secretary, ...headers },
      payload: body as Record<string, unknown>,
    });
  const founding = {
    ptceId: 'bodies',
    name: 'Bodies',
    territory: { name: 'Pays du Val (fictif)', department: '79', rural: true },
    pilot: { organisationId: 'asso-pilot', name: 'Association pilote', category: 'ess_enterprise' },
    occurredAt: '2017-03-01',
  };

  it('400 validation_failed names each field in errors', async () => {
    const answer = await register({ ...founding, name: '', colour: 'blue' });
    expect(answer.statusCode).toBe(400);
    expect(answer.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(answer.json()).toEqual({
      type: 'https://ptce-ledger.dev/problems/validation_failed',
      title: 'Bad Request',
      status: 400,
      detail: 'The request is not valid.',
      code: 'validation_failed',
      instance: '/v1/ptces',
      errors: [
        { path: 'name', message: 'Too small: expected string to have >=1 characters', in: 'body' },
        { path: 'colour', message: 'unknown field', in: 'body' },
      ],
    });
  });

  it("422 keeps a domain refusal's own members, and idempotency_key_reused its code", async () => {
    const future = await register({ ...founding, occurredAt: '2999-01-01' });
    expect(future.statusCode).toBe(422);
    expect(future.headers['content-type']).toBe('application/problem+json; charset=utf-8');
    expect(future.json()).toEqual({
      type: 'https://ptce-ledger.dev/problems/occurred_in_future',
      title: 'Unprocessable Entity',
      status: 422,
      detail: 'occurredAt 2999-01-01 is more than one day in the future',
      code: 'occurred_in_future',
      instance: '/v1/ptces',
      occurredAt: '2999-01-01',
    });

    expect((await register(founding, { 'idempotency-key': 'bodies-1' })).statusCode).toBe(201);
    const reused = await register({ ...founding, name: 'Other' }, { 'idempotency-key': 'bodies-1' });
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toEqual({
      type: 'https://ptce-ledger.dev/problems/idempotency_key_reused',
      title: 'Unprocessable Entity',
      status: 422,
      detail: expect.any(String),
      code: 'idempotency_key_reused',
      instance: '/v1/ptces',
    });
  });

  it('429 rate_limited keeps its limit', async () => {
    const limitedServer = await startTestServer({ RATE_LIMIT_MAX: '3' });
    try {
      const authorization = await limitedServer.bearer('secretary');
      const statuses: number[] = [];
      let limited: unknown;
      for (let i = 0; i < 4; i += 1) {
        const answer = await limitedServer.app.inject({
          method: 'GET',
          url: '/v1/me',
          headers: { authorization },
        });
        statuses.push(answer.statusCode);
        if (answer.statusCode === 429) {
          limited = answer.json();
          expect(answer.headers['retry-after']).toMatch(/^\d+$/);
        }
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      expect(limited).toEqual({
        type: 'https://ptce-ledger.dev/problems/rate_limited',
        title: 'Too Many Requests',
        status: 429,
        detail: expect.stringMatching(/^Too many requests; retry in /),
        code: 'rate_limited',
        instance: '/v1/me',
        limit: 3,
      });
    } finally {
      await limitedServer.close();
    }
  });
});
