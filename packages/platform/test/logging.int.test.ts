import { Writable } from 'node:stream';
import { expect, test } from 'vitest';
import { z } from 'zod';
import { zodPlugin } from '../src/app.ts';
import { testApp, token } from './helpers.ts';

test('logs carry the request id and never the bearer token', async () => {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const app = await testApp({ logger: { level: 'info', stream } });
  const jwt = await token();
  app.get('/test/log', async (request) => {
    // A careless log call with the headers must still not write the token.
    request.log.info({ headers: request.headers }, 'handling');
    return { ok: true };
  });
  await app.ready();
  const res = await app.inject({
    url: '/test/log',
    headers: { authorization: `Bearer ${jwt}`, 'x-request-id': 'trace-42' },
  });
  expect(res.statusCode).toBe(200);
  await app.close();
  const all = lines.join('\n');
  expect(all).not.toContain(jwt);
  expect(all).toContain('[redacted]');
  const tagged = lines.map((l) => JSON.parse(l)).filter((l) => l.reqId === 'trace-42');
  expect(tagged.map((l) => l.msg)).toEqual(
    expect.arrayContaining(['incoming request', 'handling', 'request completed']),
  );
});

test('a service plugin registered after createApp is typed by zod, validated and documented', async () => {
  const app = await testApp();
  const plugin = zodPlugin<{ greeting: string }>(async (scoped, options) => {
    scoped.get(
      '/v1/hello/:name',
      {
        schema: {
          params: z.object({ name: z.string().regex(/^[a-z]+$/) }),
          response: { 200: z.object({ message: z.string() }) },
        },
      },
      async (request) => ({ message: `${options.greeting} ${request.params.name}` }),
    );
  });
  await app.register(plugin, { greeting: 'bonjour' });
  await app.ready();
  const headers = { authorization: `Bearer ${await token()}` };
  expect((await app.inject({ url: '/v1/hello/marie', headers })).json()).toEqual({
    message: 'bonjour marie',
  });
  const bad = await app.inject({ url: '/v1/hello/M4rie', headers });
  expect(bad.statusCode).toBe(400);
  expect(bad.json().errors).toEqual([{ path: 'name', message: expect.any(String), in: 'params' }]);
  expect((await app.inject({ url: '/docs/json' })).json().paths['/v1/hello/{name}']).toBeDefined();
  await app.close();
});
