import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import type { App } from '../src/app.ts';
import { conflict, ProblemError } from '../src/problem.ts';
import { createRedis } from '../src/redis.ts';
import { pingOnlyStore, testApp, testConfig, token } from './helpers.ts';

class StoreUnavailableError extends Error {
  override readonly name = 'StoreUnavailableError';
}
class RevisionConflictError extends Error {
  override readonly name = 'RevisionConflictError';
}

const bodySchema = z
  .object({
    name: z.string().min(1),
    territory: z.object({ name: z.string(), rural: z.boolean().optional() }).strict(),
  })
  .strict();

async function withRoutes(app: App): Promise<App> {
  app.post(
    '/test/things',
    { schema: { body: bodySchema, response: { 201: z.object({ id: z.string() }) } } },
    async (_r, reply) => reply.code(201).send({ id: 'thing-1' }),
  );
  app.get(
    '/test/leak',
    { schema: { response: { 200: z.object({ name: z.string() }) } } },
    async () => ({ name: 'x', secret: 'hidden' }) as { name: string },
  );
  app.get(
    '/test/table',
    {
      schema: {
        querystring: z.object({ format: z.enum(['json', 'csv']).default('json') }),
        response: {
          200: {
            description: 'rows as JSON, or as CSV',
            content: {
              'application/json': { schema: z.object({ rows: z.array(z.string()) }) },
              'text/csv': { schema: z.string().describe('one row a line') },
            },
          },
        },
      },
    },
    async (request, reply) =>
      request.query.format === 'csv'
        ? reply.type('text/csv; charset=utf-8').send('a\r\n')
        : // The JSON schema still drops what it does not declare.
          ({ rows: ['a'], secret: 'hidden' } as { rows: string[] }),
  );
  app.get('/test/boom', async () => {
    throw new Error('password=hunter2 at db.internal:5432');
  });
  app.get('/test/store-down', async () => {
    throw new StoreUnavailableError('ECONNREFUSED 10.0.0.3:5432');
  });
  app.get('/test/revision', async () => {
    throw new RevisionConflictError('expected 3, got 4');
  });
  app.get('/test/problem', async () => {
    throw conflict('Already a member.', 'already_member', { organisationId: 'acme' });
  });
  app.get('/test/slow', { config: { public: true } }, async () => {
    await new Promise((resolve) => setTimeout(resolve, 50));
    return { ok: true };
  });
  await app.ready();
  return app;
}

let app: App;
let auth: { authorization: string };
beforeAll(async () => {
  app = await withRoutes(await testApp({ config: testConfig({ BODY_LIMIT: '2048' }) }));
  auth = { authorization: `Bearer ${await token()}` };
});
afterAll(() => app.close());

const problemShape = (code: string, status: number) => ({
  type: `https://ptce-ledger.dev/problems/${code}`,
  title: expect.any(String),
  status,
  detail: expect.any(String),
  code,
  instance: expect.any(String),
});

describe('problem+json', () => {
  test('a valid body passes and the response schema applies', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/test/things',
      headers: auth,
      payload: { name: 'Val Coop', territory: { name: 'Diois' } },
    });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual({ id: 'thing-1' });
  });

  test('validation errors list each offending field', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/test/things?x=1',
      headers: auth,
      payload: { name: '', territory: { rural: 'yes' } },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    const body = res.json();
    expect(body).toMatchObject({ ...problemShape('validation_failed', 400), instance: '/test/things?x=1' });
    expect(body.errors.map((e: { path: string }) => e.path).sort()).toEqual([
      'name',
      'territory.name',
      'territory.rural',
    ]);
    for (const error of body.errors) {
      expect(error).toEqual({ path: expect.any(String), message: expect.any(String), in: 'body' });
    }
  });

  test('unknown fields are refused, each named', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/test/things',
      headers: auth,
      payload: { name: 'x', territory: { name: 'y', mayor: 'z' }, extra: 1 },
    });
    expect(res.statusCode).toBe(400);
    expect(res.json().errors).toEqual(
      expect.arrayContaining([
        { path: 'extra', message: 'unknown field', in: 'body' },
        { path: 'territory.mayor', message: 'unknown field', in: 'body' },
      ]),
    );
  });

  test('malformed JSON is a 400 problem', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/test/things',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject(problemShape('malformed_body', 400));
  });

  test('a body over BODY_LIMIT is 413', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/test/things',
      headers: auth,
      payload: { name: 'x'.repeat(5000), territory: { name: 'y' } },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject(problemShape('payload_too_large', 413));
  });

  test('an unknown route is a 404 problem', async () => {
    const res = await app.inject({ url: '/v1/nowhere', headers: auth });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toMatchObject({ ...problemShape('not_found', 404), instance: '/v1/nowhere' });
  });

  test('an unexpected error is a 500 without internals', async () => {
    const res = await app.inject({ url: '/test/boom', headers: auth });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({
      ...problemShape('internal', 500),
      detail: 'An unexpected error occurred.',
      title: 'Internal Server Error',
    });
    expect(res.body).not.toMatch(/hunter2|db\.internal|stack/);
  });

  test('a response field nobody declared is dropped', async () => {
    const res = await app.inject({ url: '/test/leak', headers: auth });
    expect(res.json()).toEqual({ name: 'x' });
  });

  test('StoreUnavailableError is 503 with Retry-After, without the cause', async () => {
    const res = await app.inject({ url: '/test/store-down', headers: auth });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.json()).toMatchObject(problemShape('store_unavailable', 503));
    expect(res.body).not.toContain('10.0.0.3');
  });

  test('RevisionConflictError is 409 revision_conflict', async () => {
    const res = await app.inject({ url: '/test/revision', headers: auth });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject(problemShape('revision_conflict', 409));
  });

  test('a ProblemError renders itself with its extensions', async () => {
    const res = await app.inject({ url: '/test/problem', headers: auth });
    expect(res.statusCode).toBe(409);
    expect(res.json()).toEqual({
      ...problemShape('already_member', 409),
      title: 'Conflict',
      detail: 'Already a member.',
      organisationId: 'acme',
      instance: '/test/problem',
    });
  });

  test('ProblemError keeps its constructor contract', () => {
    const error = new ProblemError(422, 'date_before_registration', 'Too early.', { field: 'occurredAt' });
    expect(error).toBeInstanceOf(Error);
    expect([error.status, error.code, error.detail, error.extra]).toEqual([
      422,
      'date_before_registration',
      'Too early.',
      { field: 'occurredAt' },
    ]);
  });
});

describe('request ids and headers', () => {
  test('an incoming x-request-id is echoed, else x-correlation-id, else one is made', async () => {
    const a = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'abc-123' } });
    expect(a.headers['x-request-id']).toBe('abc-123');
    const b = await app.inject({ url: '/health/live', headers: { 'x-correlation-id': 'corr-9' } });
    expect(b.headers['x-request-id']).toBe('corr-9');
    const c = await app.inject({ url: '/health/live', headers: { 'x-request-id': 'bad id\nforged' } });
    expect(c.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  test('an API answer carries the headers for content no browser renders', async () => {
    const res = await app.inject({ url: '/health/live' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['strict-transport-security']).toContain('max-age=');
    // Refusals carry them too, whether no route matched or authentication failed.
    for (const refused of [
      await app.inject({ url: '/no-such-route' }),
      await app.inject({ method: 'GET', url: '/v1/me' }),
    ]) {
      expect(refused.statusCode).toBeGreaterThanOrEqual(400);
      expect(refused.headers['x-frame-options']).toBe('DENY');
      expect(refused.headers['content-security-policy']).toBe("default-src 'none'; frame-ancestors 'none'");
    }
  });

  test('a page a browser renders (the docs) carries the full set', async () => {
    const res = await app.inject({ url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('SAMEORIGIN');
    expect(res.headers['cross-origin-opener-policy']).toBe('same-origin');
    expect(res.headers['content-security-policy']).toContain("default-src 'self'");
    // Our directives, not helmet's defaults: /docs must work over plain HTTP on 127.0.0.1.
    expect(res.headers['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(res.headers['content-security-policy']).toContain("style-src 'self' 'unsafe-inline'");
  });
});

describe('OpenAPI', () => {
  test('/docs/json is OpenAPI 3.1 with bearer security and the zod schemas', async () => {
    const res = await app.inject({ url: '/docs/json' });
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.components.securitySchemes.bearerAuth).toEqual({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    });
    const body = doc.paths['/test/things'].post.requestBody.content['application/json'].schema;
    expect(body.additionalProperties).toBe(false);
    expect(body.required).toEqual(['name', 'territory']);
    expect(doc.paths['/v1/me'].get.responses['200']).toBeDefined();
    expect(doc.paths['/health/ready'].get.security).toEqual([]);
    expect(doc.paths['/metrics']).toBeUndefined();
  });

  test('an answer in several media types is documented under each, and each is served', async () => {
    const doc = (await app.inject({ url: '/docs/json' })).json();
    const answer = doc.paths['/test/table'].get.responses['200'];
    expect(answer.description).toBe('rows as JSON, or as CSV');
    expect(Object.keys(answer.content)).toEqual(['application/json', 'text/csv']);
    expect(answer.content['text/csv'].schema).toMatchObject({
      type: 'string',
      description: 'one row a line',
    });
    expect(answer.content['application/json'].schema).toMatchObject({
      type: 'object',
      properties: { rows: { type: 'array' } },
    });
    const json = await app.inject({ url: '/test/table', headers: auth });
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.json()).toEqual({ rows: ['a'] });
    const csv = await app.inject({ url: '/test/table?format=csv', headers: auth });
    expect(csv.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(csv.body).toBe('a\r\n');
  });

  test('/docs is a page served without a token and without any CDN', async () => {
    const res = await app.inject({ url: '/docs/' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).not.toMatch(/https?:\/\/(?!localhost)[a-z0-9.-]+\/.*\.(js|css)/i);
    const script = await app.inject({ url: '/docs/static/swagger-ui-bundle.js' });
    expect(script.statusCode).toBe(200);
  });
});

describe('metrics', () => {
  test('counts requests and latency by route template, method and status', async () => {
    const local = await withRoutes(await testApp());
    const headers = { authorization: `Bearer ${await token()}` };
    await local.inject({ url: '/health/live' });
    await local.inject({ url: '/health/live' });
    await local.inject({ url: '/v1/me' });
    await local.inject({ url: '/v1/me', headers });
    await local.inject({ url: '/no/such/42' });
    const res = await local.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body).toContain('http_requests_total{method="GET",route="/health/live",status_code="200"} 2');
    expect(res.body).toContain('http_requests_total{method="GET",route="/v1/me",status_code="401"} 1');
    expect(res.body).toContain('http_requests_total{method="GET",route="/v1/me",status_code="200"} 1');
    expect(res.body).toContain('http_requests_total{method="GET",route="unmatched",status_code="404"} 1');
    expect(res.body).not.toContain('/no/such/42');
    expect(res.body).toMatch(
      /http_request_duration_seconds_count\{method="GET",route="\/health\/live",status_code="200"\} 2/,
    );
    expect(res.body).toContain('process_cpu_user_seconds_total');
    expect(res.body).toContain('nodejs_eventloop_lag_seconds');
    await local.close();
  });
});

describe('rate limiting', () => {
  test('over RATE_LIMIT_MAX per minute is a 429 problem; health is never limited', async () => {
    const local = await testApp({ config: testConfig({ RATE_LIMIT_MAX: '3' }) });
    const headers = { authorization: `Bearer ${await token()}` };
    for (let i = 0; i < 3; i++) expect((await local.inject({ url: '/v1/me', headers })).statusCode).toBe(200);
    const res = await local.inject({ url: '/v1/me', headers });
    expect(res.statusCode).toBe(429);
    expect(res.headers['retry-after']).toBeDefined();
    expect(res.json()).toMatchObject(problemShape('rate_limited', 429));
    expect((await local.inject({ url: '/health/ready' })).statusCode).toBe(200);
    await local.close();
  });
});

describe('the rate limit applies before authentication (hostile-test defect 2)', () => {
  test('requests with no token, a forged token or to an unknown route are counted per client address', async () => {
    const local = await testApp({ config: testConfig({ RATE_LIMIT_MAX: '20' }) });
    const forged = `Bearer ${(await token()).slice(0, -4)}AAAA`;
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      const headers = i % 3 === 0 ? {} : { authorization: forged };
      const url = i % 5 === 0 ? '/v1/no-such-route' : '/v1/me';
      statuses.push((await local.inject({ url, headers, remoteAddress: '203.0.113.7' })).statusCode);
    }
    expect(statuses.slice(0, 20).every((s) => s === 401 || s === 404)).toBe(true);
    expect(statuses.slice(20)).toEqual(Array(10).fill(429));
    // Another client address has its own budget, and health is never limited.
    const other = await local.inject({ url: '/v1/me', remoteAddress: '198.51.100.9' });
    expect(other.statusCode).toBe(401);
    expect((await local.inject({ url: '/health/live', remoteAddress: '203.0.113.7' })).statusCode).toBe(200);
    await local.close();
  });

  test('a refused client never reaches token verification: no signature is checked once it is limited', async () => {
    const local = await testApp({ config: testConfig({ RATE_LIMIT_MAX: '5' }) });
    const forged = `Bearer ${(await token()).slice(0, -4)}AAAA`;
    for (let i = 0; i < 5; i++) await local.inject({ url: '/v1/me', headers: { authorization: forged } });
    const limited = await local.inject({ url: '/v1/me', headers: { authorization: forged } });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toMatchObject(problemShape('rate_limited', 429));
    expect(limited.headers['www-authenticate']).toBeUndefined();
    await local.close();
  });
});

describe('behind the gateway (TRUST_PROXY)', () => {
  const limitedTwice = async (config: Record<string, string>, forwardedFor: readonly string[]) => {
    const local = await testApp({ config: testConfig({ RATE_LIMIT_MAX: '1', ...config }) });
    try {
      const statuses: number[] = [];
      for (const client of forwardedFor) {
        const headers = { 'x-forwarded-for': client };
        statuses.push(
          (await local.inject({ url: '/v1/me', headers, remoteAddress: '172.30.0.10' })).statusCode,
        );
      }
      return statuses;
    } finally {
      await local.close();
    }
  };

  test("the gateway's X-Forwarded-For names the client the rate limit counts", async () => {
    // Two clients through one gateway: each its own budget.
    expect(await limitedTwice({ TRUST_PROXY: '172.30.0.10' }, ['203.0.113.7', '198.51.100.9'])).toEqual([
      401, 401,
    ]);
    // The gateway appends the address it saw to what the client claimed: the claim is not believed.
    expect(
      await limitedTwice({ TRUST_PROXY: '172.30.0.10' }, ['10.9.9.9, 203.0.113.7', '10.9.9.8, 203.0.113.7']),
    ).toEqual([401, 429]);
  });

  test('by default nobody is trusted: every client behind one proxy shares its budget', async () => {
    expect(await limitedTwice({}, ['203.0.113.7', '198.51.100.9'])).toEqual([401, 429]);
  });
});

async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('health', () => {
  test('/health/live answers without a token', async () => {
    const res = await app.inject({ url: '/health/live' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'up' });
  });

  test('ready when the store answers', async () => {
    const res = await app.inject({ url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'up', checks: { eventStore: 'up' } });
  });

  test('503 naming the store when its ping rejects', async () => {
    const local = await testApp({
      eventStore: pingOnlyStore(async () => {
        throw new StoreUnavailableError('connect ECONNREFUSED');
      }),
      readiness: { projections: async () => {} },
    });
    const res = await local.inject({ url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      ...problemShape('not_ready', 503),
      status: 'down',
      down: ['eventStore'],
      checks: { eventStore: 'down', projections: 'up' },
    });
    expect(res.json().detail).toContain('eventStore');
    expect(res.body).not.toContain('ECONNREFUSED');
    await local.close();
  });

  test('a check that never answers counts as down', async () => {
    const local = await testApp({ readiness: { slow: () => new Promise(() => {}) } });
    const started = Date.now();
    const res = await local.inject({ url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json().down).toEqual(['slow']);
    expect(Date.now() - started).toBeLessThan(5_000);
    await local.close();
  });

  test('Redis on a closed port: 503 degraded, naming redis; requests still served', async () => {
    const redis = createRedis(`redis://127.0.0.1:${await closedPort()}`);
    const local = await testApp({ redis });
    const res = await local.inject({ url: '/health/ready' });
    expect(res.statusCode).toBe(503);
    expect(res.json()).toMatchObject({
      status: 'degraded',
      down: ['redis'],
      checks: { eventStore: 'up', redis: 'down' },
    });
    // The rate limiter counts in Redis; its failure must not refuse the request.
    const me = await local.inject({ url: '/v1/me', headers: { authorization: `Bearer ${await token()}` } });
    expect(me.statusCode).toBe(200);
    await local.close();
    redis.disconnect();
  });
});

// The run's global setup found no Redis (outside CI, where that fails the run instead).
const noRedis = process.env.PTCE_TEST_REDIS === 'absent';
describe.skipIf(noRedis)(
  noRedis ? 'with a live Redis — skipped: no Redis answers at REDIS_URL' : 'with a live Redis',
  () => {
    const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
    test('ready, and rate-limit counters live under the key prefix', async () => {
      const prefix = `ptce-test-${process.pid}-${Date.now()}:`;
      const redis = createRedis(url, { keyPrefix: prefix });
      const local = await testApp({ redis, config: testConfig({ RATE_LIMIT_MAX: '2' }) });
      const res = await local.inject({ url: '/health/ready' });
      expect(res.json()).toEqual({ status: 'up', checks: { eventStore: 'up', redis: 'up' } });
      const headers = { authorization: `Bearer ${await token()}` };
      expect((await local.inject({ url: '/v1/me', headers })).statusCode).toBe(200);
      expect((await local.inject({ url: '/v1/me', headers })).statusCode).toBe(200);
      expect((await local.inject({ url: '/v1/me', headers })).statusCode).toBe(429);
      const admin = createRedis(url);
      await admin.connect();
      const keys = await admin.keys(`${prefix}*`);
      expect(keys.length).toBeGreaterThan(0);
      await admin.del(...keys);
      admin.disconnect();
      await local.close();
      redis.disconnect();
    });
  },
);
