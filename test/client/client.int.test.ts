import { createPtceClient } from '@ptce/client';
import { startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

describe('createPtceClient against the standalone server over HTTP', () => {
  let server: TestServer;
  let baseUrl: string;
  let token: string;

  beforeAll(async () => {
    server = await startTestServer();
    baseUrl = await server.app.listen({ host: '127.0.0.1', port: 0 });
    token = (await server.bearer('secretary', ['client-ptce'], 'client-test')).slice('Bearer '.length);
  });
  afterAll(() => server?.close());

  test('the token goes in as a bearer: the server names its subject', async () => {
    const { data, response } = await createPtceClient({ baseUrl, token }).GET('/v1/me');
    expect(response.status).toBe(200);
    expect(data).toMatchObject({ sub: 'client-test', role: 'secretary', ptces: ['client-ptce'] });
  });

  test('without a token the server refuses with problem+json; a public route still answers', async () => {
    const anonymous = createPtceClient({ baseUrl });
    const { error, response } = await anonymous.GET('/v1/me');
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(error).toMatchObject({ code: 'unauthorized' });
    expect((await anonymous.GET('/.well-known/jwks.json')).response.status).toBe(200);
  });

  test("a call's own Authorization header wins over the client's token", async () => {
    const client = createPtceClient({ baseUrl, token });
    const { response } = await client.GET('/v1/me', { headers: { authorization: 'Bearer not-a-jwt' } });
    expect(response.status).toBe(401);
  });

  test('a write then a read, path parameters filled in from params', async () => {
    const client = createPtceClient({ baseUrl, token });
    const registered = await client.POST('/v1/ptces', {
      body: {
        ptceId: 'client-ptce',
        name: 'PTCE du client',
        territory: { name: 'Pays test' },
        pilot: { organisationId: 'asso', name: 'Asso', category: 'ess_enterprise' },
        occurredAt: '2020-01-01',
      },
    });
    expect(registered.response.status, JSON.stringify(registered.error)).toBe(201);
    expect(registered.data).toMatchObject({ ptceId: 'client-ptce', revision: 0 });
    const stage = await client.GET('/v1/ptces/{ptceId}/stage', {
      params: { path: { ptceId: 'client-ptce' } },
    });
    expect(stage.response.status, JSON.stringify(stage.error)).toBe(200);
    expect(stage.data?.stage).toEqual(expect.any(String));
  });

  test('the fetch given is the one used', async () => {
    const seen: string[] = [];
    const client = createPtceClient({
      baseUrl,
      token,
      fetch: (request) => {
        seen.push(
          `${request.method} ${new URL(request.url).pathname} ${request.headers.get('authorization')}`,
        );
        return fetch(request);
      },
    });
    expect((await client.GET('/health/live')).response.status).toBe(200);
    expect(seen).toEqual([`GET /health/live Bearer ${token}`]);
  });
});
