import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { type App, zodPlugin } from '../src/app.ts';
import { ConfigError } from '../src/config.ts';
import { mergeOpenApiDocuments, type OpenApiDocument, READINESS_REUSE_MS } from '../src/gateway.ts';
import { buildHost, type ServiceModule } from '../src/host.ts';
import { tempDir, testConfig } from './helpers.ts';

const dirs: string[] = [];
const apps: App[] = [];
afterAll(async () => {
  for (const app of apps) await app.close();
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

function config(env: Record<string, string> = {}) {
  const dataDir = path.join(tempDir('ptce-gateway-'), 'data');
  dirs.push(path.dirname(dataDir));
  return testConfig({ DATA_DIR: dataDir, ...env });
}

/** A service answering GET /v1/<name>, described in its OpenAPI document. */
function service(name: string): ServiceModule<Record<never, never>> {
  return {
    name,
    plugin: zodPlugin(async (app) => {
      app.get(`/v1/${name}`, { schema: { summary: `the ${name} route`, tags: [name] } }, async () => ({}));
    }),
    options: () => ({}),
  };
}

async function listening(name: string): Promise<{ app: App; url: string }> {
  const app = await buildHost(config(), { logger: false, services: [service(name)] });
  apps.push(app);
  return { app, url: await app.listen({ host: '127.0.0.1', port: 0 }) };
}

describe('the deployment-wide answers of the process configured with UPSTREAMS', () => {
  test("readiness and OpenAPI document of every service, its own and the others' live", async () => {
    const beta = await listening('beta');
    const gamma = await listening('gamma');
    const alpha = await buildHost(config({ UPSTREAMS: `beta=${beta.url},gamma=${gamma.url}` }), {
      logger: false,
      services: [service('alpha')],
    });
    apps.push(alpha);

    const ready = await alpha.inject({ url: '/gateway/health/ready' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({
      status: 'up',
      services: {
        alpha: { status: 'up', checks: { eventStore: 'up', revocations: 'up' } },
        beta: { status: 'up', checks: { eventStore: 'up', revocations: 'up' } },
        gamma: { status: 'up', checks: { eventStore: 'up', revocations: 'up' } },
      },
    });

    const docs = await alpha.inject({ url: '/gateway/docs/json' });
    expect(docs.statusCode).toBe(200);
    const document = docs.json() as OpenApiDocument;
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining(['/v1/alpha', '/v1/beta', '/v1/gamma', '/v1/me', '/health/ready']),
    );
    expect(document.paths['/v1/beta']?.get).toMatchObject({ summary: 'the beta route' });
    // The deployment's own addresses are not part of the contract.
    expect(Object.keys(document.paths).filter((p) => p.startsWith('/gateway'))).toEqual([]);
    // Each service alone still describes only itself.
    const own = (await alpha.inject({ url: '/docs/json' })).json() as OpenApiDocument;
    expect(Object.keys(own.paths)).not.toContain('/v1/beta');

    await gamma.app.close();
    // The last round of questions answers for a second: the next one finds gamma gone.
    await new Promise((resolve) => setTimeout(resolve, READINESS_REUSE_MS));
    const notReady = await alpha.inject({ url: '/gateway/health/ready' });
    expect(notReady.statusCode).toBe(503);
    expect(notReady.headers['content-type']).toContain('application/problem+json');
    expect(notReady.json()).toMatchObject({
      code: 'not_ready',
      status: 'down',
      down: ['gamma'],
      services: {
        alpha: { status: 'up' },
        beta: { status: 'up' },
        gamma: { status: 'down', error: expect.stringContaining('fetch failed') },
      },
    });
    // A document without gamma's routes would be a wrong contract: none is served.
    const noDocs = await alpha.inject({ url: '/gateway/docs/json' });
    expect(noDocs.statusCode).toBe(502);
    expect(noDocs.json()).toMatchObject({ code: 'upstream_unavailable', service: 'gamma' });
  });

  test('readiness asked many times at once asks each service once', async () => {
    let asked = 0;
    const upstream = http.createServer((_request, response) => {
      asked++;
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ status: 'up', checks: { eventStore: 'up' } }));
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = upstream.address() as AddressInfo;
      const app = await buildHost(config({ UPSTREAMS: `beta=http://127.0.0.1:${port}` }), {
        logger: false,
        services: [service('alpha')],
      });
      apps.push(app);
      const answers = await Promise.all(
        Array.from({ length: 20 }, () => app.inject({ url: '/gateway/health/ready' })),
      );
      expect(answers.map((answer) => answer.statusCode)).toEqual(Array(20).fill(200));
      expect(asked).toBe(1);
    } finally {
      await new Promise((resolve) => upstream.close(resolve));
    }
  });

  test('without UPSTREAMS a service has no deployment-wide answers', async () => {
    const { app } = await listening('alone');
    expect((await app.inject({ url: '/gateway/health/ready' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/gateway/docs/json' })).statusCode).toBe(404);
  });

  test('a process naming itself among its upstreams is refused at start', async () => {
    const error = await buildHost(config({ UPSTREAMS: 'alpha=http://127.0.0.1:1' }), {
      logger: false,
      services: [service('alpha')],
    }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      { variable: 'UPSTREAMS', message: expect.stringContaining('alpha is mounted by this process') },
    ]);
  });
});

describe('mergeOpenApiDocuments', () => {
  const document = (paths: OpenApiDocument['paths'], schemas?: Record<string, unknown>): OpenApiDocument => ({
    openapi: '3.1.0',
    info: { title: 'PTCE Ledger API', version: '1.0.0' },
    paths,
    ...(schemas ? { components: { schemas } } : {}),
  });

  test('joins the methods of one path served by two services', () => {
    const merged = mergeOpenApiDocuments([
      { service: 'membership', document: document({ '/v1/ptces': { post: { summary: 'register' } } }) },
      { service: 'projections', document: document({ '/v1/ptces': { get: { summary: 'list' } } }) },
    ]);
    expect(merged.paths).toEqual({
      '/v1/ptces': { post: { summary: 'register' }, get: { summary: 'list' } },
    });
  });

  test('refuses two services describing one route or one component differently', () => {
    const conflict = () =>
      mergeOpenApiDocuments([
        {
          service: 'a',
          document: document({ '/v1/me': { get: { summary: 'me' } } }, { Id: { type: 'string' } }),
        },
        {
          service: 'b',
          document: document({ '/v1/me': { get: { summary: 'someone' } } }, { Id: { type: 'number' } }),
        },
      ]);
    expect(conflict).toThrow('GET /v1/me (a and b), components.schemas.Id (b)');
  });
});
