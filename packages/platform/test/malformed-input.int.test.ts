import net from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import type { App } from '../src/app.ts';
import { parseJsonText, requestTimeouts } from '../src/http-input.ts';
import { fieldErrorsFromIssues, ProblemError } from '../src/problem.ts';
import { testApp, testConfig, token } from './helpers.ts';

const tally = z.strictObject({ for: z.number().int(), against: z.number().int(), abstain: z.number().int() });
const consensus = z.strictObject({ method: z.literal('consensus'), objections: z.number().int() });
const bodySchema = z.strictObject({
  name: z.string().min(1),
  territory: z.strictObject({ name: z.string(), rural: z.boolean().optional() }).optional(),
  vote: z.union([tally, consensus]).optional(),
  note: z.string().optional(),
});

async function withRoutes(app: App): Promise<App> {
  app.post('/test/things', { schema: { body: bodySchema } }, async (request) => ({ got: request.body }));
  app.get('/test/things/:id', async () => ({ ok: true }));
  await app.ready();
  return app;
}

let app: App;
let auth: { authorization: string };
beforeAll(async () => {
  app = await withRoutes(await testApp({ config: testConfig({ BODY_LIMIT: '65536' }) }));
  auth = { authorization: `Bearer ${await token()}` };
});
afterAll(() => app.close());

const post = (payload: string, headers: Record<string, string> = {}) =>
  app.inject({
    method: 'POST',
    url: '/test/things',
    headers: { ...auth, 'content-type': 'application/json', ...headers },
    payload,
  });

function expectProblemJson(res: { statusCode: number; headers: Record<string, unknown>; body: string }) {
  expect(String(res.headers['content-type'])).toMatch(/^application\/problem\+json/);
  return JSON.parse(res.body) as { code: string; status: number; errors?: { path: string }[] };
}

interface RawAnswer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly elapsedMs: number;
}

/** Writes `head` on a real socket, then `drip` one byte at a time every `everyMs`, until answered. */
function rawRequest(port: number, head: string, drip = '', everyMs = 200): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1');
    let received = '';
    let timer: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      socket.write(head);
      let sent = 0;
      timer = setInterval(() => {
        if (sent < drip.length && socket.writable) socket.write(drip.charAt(sent++));
      }, everyMs);
    });
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      const [top = '', ...rest] = received.split('\r\n\r\n');
      const [statusLine = '', ...headerLines] = top.split('\r\n');
      const match = /^HTTP\/1\.1 (\d{3})/.exec(statusLine);
      if (!match) return reject(new Error(`no HTTP answer: ${JSON.stringify(received.slice(0, 200))}`));
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
      }
      resolve({
        status: Number(match[1]),
        headers,
        body: rest.join('\r\n\r\n'),
        elapsedMs: Date.now() - started,
      });
    });
  });
}

async function listening(env: Record<string, string> = {}): Promise<{ app: App; port: number }> {
  const server = await withRoutes(await testApp({ config: testConfig(env) }));
  await server.listen({ host: '127.0.0.1', port: 0 });
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('not listening on a port');
  return { app: server, port: address.port };
}

describe('malformed input (hostile-test defect 5)', () => {
  const LIMIT_MS = 1000;
  // Node checks the deadlines every tenth of the limit: it answers between LIMIT_MS and
  // LIMIT_MS + LIMIT_MS / 10, plus the scheduling of a loaded test machine.
  const MARGIN_MS = 600;
  let server: { app: App; port: number };
  beforeAll(async () => {
    server = await listening({ REQUEST_TIMEOUT_MS: String(LIMIT_MS) });
  });
  afterAll(() => server.app.close());

  test('a body dripped one byte at a time is cut at REQUEST_TIMEOUT_MS with a 408 problem+json', async () => {
    const body = JSON.stringify({ name: 'a slow client' });
    const answer = await rawRequest(
      server.port,
      `POST /test/things HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth.authorization}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      200,
    );
    expect(answer.status).toBe(408);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 408, code: 'request_timeout' });
    expect(answer.elapsedMs).toBeGreaterThanOrEqual(LIMIT_MS - 50);
    expect(answer.elapsedMs).toBeLessThan(LIMIT_MS + MARGIN_MS);
  });

  test('headers dripped one byte at a time are cut at the same limit', async () => {
    const answer = await rawRequest(
      server.port,
      'GET /health/live HTTP/1.1\r\n',
      'Host: x\r\nX-Slow: yes',
      100,
    );
    expect(answer.status).toBe(408);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 408, code: 'request_timeout' });
    expect(answer.elapsedMs).toBeLessThan(LIMIT_MS + MARGIN_MS);
  });

  test('the server options carry the limit from creation, checked every tenth of it', () => {
    expect(requestTimeouts(3000)).toEqual({
      requestTimeout: 3000,
      headersTimeout: 3000,
      connectionsCheckingInterval: 300,
    });
    expect(requestTimeouts(30_000).connectionsCheckingInterval).toBe(3000);
    // No limit on the whole request: the headers keep a minute.
    expect(requestTimeouts(0)).toMatchObject({ requestTimeout: 0, headersTimeout: 60_000 });
  });
});

describe('malformed input (hostile-test defect 8c)', () => {
  test('a wrong type inside a union names the innermost field of the branch that fits best', async () => {
    const tallyWrong = await post(JSON.stringify({ name: 'x', vote: { for: 'x', against: 0, abstain: 0 } }));
    expect(tallyWrong.statusCode).toBe(400);
    expect(expectProblemJson(tallyWrong).errors).toEqual([
      { path: 'vote.for', message: expect.stringContaining('number'), in: 'body' },
    ]);
    const consensusWrong = await post(
      JSON.stringify({ name: 'x', vote: { method: 'consensus', objections: 'none' } }),
    );
    expect(expectProblemJson(consensusWrong).errors?.map((e) => e.path)).toEqual(['vote.objections']);
    const missing = await post(JSON.stringify({ name: 'x', vote: { for: 1, against: 0 } }));
    expect(expectProblemJson(missing).errors?.map((e) => e.path)).toEqual(['vote.abstain']);
    // Nothing like either branch: the union itself is named.
    const neither = await post(JSON.stringify({ name: 'x', vote: 'yes' }));
    expect(expectProblemJson(neither).errors?.map((e) => e.path)).toEqual(['vote']);
  });

  test('the same mapping serves zod errors thrown in a handler', () => {
    const result = z.strictObject({ vote: z.union([tally, consensus]) }).safeParse({
      vote: { for: 1, against: 'two', abstain: 0 },
    });
    expect(result.success).toBe(false);
    expect(fieldErrorsFromIssues(result.error?.issues ?? []).map((e) => e.path)).toEqual(['vote.against']);
  });
});

describe('malformed input (hostile-test defect 8d)', () => {
  test.each([
    ['{"name":"x","__proto__":{"admin":true}}', '__proto__'],
    ['{"name":"x","constructor":{"prototype":{"admin":true}}}', 'constructor'],
    ['{"name":"x","territory":{"name":"t","__proto__":{}}}', 'territory.__proto__'],
    ['{"name":"x","territory":{"name":"t","\\u005f_proto__":{}}}', 'territory.__proto__'],
    ['{"name":"x","constructor":1}', 'constructor'],
  ])('%s is a 400 naming %s as a forbidden field', async (payload, path) => {
    const res = await post(payload);
    expect(res.statusCode).toBe(400);
    const body = expectProblemJson(res);
    expect(body.code).toBe('validation_failed');
    expect(body.errors).toEqual([{ path, message: expect.stringContaining('forbidden field'), in: 'body' }]);
  });
});

describe('malformed input (hostile-test defect 8e)', () => {
  let server: { app: App; port: number };
  beforeAll(async () => {
    server = await listening();
  });
  afterAll(() => server.app.close());

  test('headers over the parser limit are a 431 problem+json', async () => {
    const answer = await rawRequest(
      server.port,
      `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    expect(answer.status).toBe(431);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 431, code: 'headers_too_large' });
  });

  test('a header holding a control character is a 400 problem+json', async () => {
    const answer = await rawRequest(
      server.port,
      'GET /health/live HTTP/1.1\r\nHost: x\r\nX-Bad: a\u0001b\r\n\r\n',
    );
    expect(answer.status).toBe(400);
    expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, code: 'malformed_request' });
  });

  test('a header name holding a space is a 400 problem+json', async () => {
    const answer = await rawRequest(server.port, 'GET /health/live HTTP/1.1\r\nHost: x\r\nX Bad: a\r\n\r\n');
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ status: 400, code: 'malformed_request' });
  });

  test('a URL that cannot be decoded is a 400 problem+json', async () => {
    const res = await app.inject({ url: '/test/things/%zz', headers: auth });
    expect(res.statusCode).toBe(400);
    expect(expectProblemJson(res)).toMatchObject({ status: 400 });
  });
});

describe('malformed input (hostile-test defect 8f)', () => {
  const body = JSON.stringify({ name: 'x' });

  test.each(['br', 'gzip', 'deflate', 'GZIP', 'identity, gzip'])(
    'Content-Encoding %s is a 415 naming the header',
    async (coding) => {
      const res = await post(body, { 'content-encoding': coding });
      expect(res.statusCode).toBe(415);
      const problem = expectProblemJson(res);
      expect(problem).toMatchObject({ status: 415, code: 'unsupported_content_encoding' });
      expect(problem.errors).toEqual([
        { path: 'content-encoding', message: expect.any(String), in: 'headers' },
      ]);
      expect(res.headers['accept-encoding']).toBe('identity');
    },
  );

  test('a gzip body is refused as compressed, not as "not valid JSON"', async () => {
    const { gzipSync } = await import('node:zlib');
    const res = await app.inject({
      method: 'POST',
      url: '/test/things',
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gzipSync(body),
    });
    expect(res.statusCode).toBe(415);
  });

  test('identity, or no header, is accepted', async () => {
    expect((await post(body, { 'content-encoding': 'identity' })).statusCode).toBe(200);
    expect((await post(body)).statusCode).toBe(200);
  });
});

describe('malformed input (hostile-test defect 8i)', () => {
  test.each([
    ['{"name":"a","name":"b"}', 'name'],
    ['{"name":"a","territory":{"name":"t","name":"u"}}', 'territory.name'],
    ['{"name":"a","\\u006eame":"b"}', 'name'],
    ['{"name":"a", "note" : "1:2", "note":"3"}', 'note'],
    ['{"name":"a","vote":{"for":1,"against":0,"abstain":0,"for":2}}', 'vote.for'],
    ['[{"a":1},{"a":1,"b":{"c":[{"d":1,"d":2}]}}]', '1.b.c.0.d'],
    // An escaped colon in a value would make up for the key the duplicate took away.
    ['{"note":"\\u003a","name":"a","name":"b"}', 'name'],
    ['{"note":"a:b","name":"a","name":"b:"}', 'name'],
  ])('%s is a 400 naming %s as given twice', async (payload, path) => {
    const res = await post(payload);
    expect(res.statusCode).toBe(400);
    const body = expectProblemJson(res);
    expect(body.code).toBe('validation_failed');
    expect(body.errors).toEqual([{ path, message: expect.stringContaining('more than once'), in: 'body' }]);
  });

  test('colons and quotes inside values are not keys', async () => {
    const payload = JSON.stringify({ name: 'a "name": b', note: 'at 10:00, "note":' });
    const res = await post(payload);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ got: JSON.parse(payload) });
  });

  test('equal keys in different objects are not duplicates', () => {
    const text = '{"a":{"x":1},"b":{"x":2},"c":[{"x":"1:2"},{"x":3}]}';
    expect(parseJsonText(text)).toEqual(JSON.parse(text));
  });

  test('empty and invalid bodies keep their problems; a leading byte order mark is ignored', async () => {
    expect(expectProblemJson(await post('{"name":')).code).toBe('malformed_body');
    expect(() => parseJsonText('')).toThrow(ProblemError);
    expect(parseJsonText('\ufeff{"name":"x"}')).toEqual({ name: 'x' });
  });

  test('deep nesting is scanned without recursion', () => {
    const deep = `${'['.repeat(100_000)}{"a":1,"a":2}${']'.repeat(100_000)}`;
    expect(() => parseJsonText(deep)).toThrow(ProblemError);
  });
});
