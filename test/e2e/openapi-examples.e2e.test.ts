import {
  failedSteps,
  runScenarioSteps,
  type Scenario,
  startTestServer,
  type TestServer,
} from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import valCoop from '../scenarios/val-coop.json' with { type: 'json' };
import { httpSender, injectFetch } from './http.ts';

interface MediaObject {
  readonly schema?: { readonly examples?: unknown };
  readonly example?: unknown;
  readonly examples?: Readonly<Record<string, { readonly value?: unknown }>>;
}
interface Operation {
  readonly requestBody?: { readonly content?: Readonly<Record<string, MediaObject>> };
  readonly responses?: Readonly<Record<string, { readonly content?: Readonly<Record<string, MediaObject>> }>>;
}
interface OpenApiDocument {
  readonly openapi: string;
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
}

interface WriteOperation {
  readonly method: 'POST' | 'PATCH';
  readonly template: string;
  readonly operation: Operation;
}

/**
 * @fastify/swagger moves a body schema's `examples` into the media object (`example` for one,
 * `examples.exampleN.value` for several); an OpenAPI 3.1 schema may also keep the array. All count.
 */
function examplesOf(media: MediaObject | undefined): unknown[] {
  if (!media) return [];
  const found: unknown[] = [];
  if (media.example !== undefined) found.push(media.example);
  for (const entry of Object.values(media.examples ?? {})) found.push(entry.value);
  if (Array.isArray(media.schema?.examples)) found.push(...media.schema.examples);
  return found;
}

// Path parameters filled with ids the val-coop history creates, so routes reach their handlers.
const PARAMS: Readonly<Record<string, string>> = {
  ptceId: 'val-coop',
  organisationId: 'garage-martin',
  spaceId: 'conseil',
  meetingId: 'conseil-2020-06-01',
  activityId: 'cjs',
  decisionId: 'budget-2020',
};

function concretePath(template: string): string {
  return template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = PARAMS[name];
    if (value === undefined) throw new Error(`no value for path parameter ${name} in ${template}`);
    return value;
  });
}

describe('the OpenAPI document carries examples every write route accepts', () => {
  let server: TestServer;
  let authorization: string;
  let document: OpenApiDocument;
  let writes: WriteOperation[];

  beforeAll(async () => {
    server = await startTestServer();
    authorization = await server.bearer('admin');
    const answer = await server.app.inject({ method: 'GET', url: '/docs/json' });
    expect(answer.statusCode).toBe(200);
    document = answer.json<OpenApiDocument>();
    writes = Object.entries(document.paths)
      .filter(([template]) => template === '/v1/ptces' || template.startsWith('/v1/ptces/'))
      .flatMap(([template, operations]) =>
        Object.entries(operations)
          .filter(([method]) => method === 'post' || method === 'patch')
          .map(([method, operation]) => ({
            method: method.toUpperCase() as 'POST' | 'PATCH',
            template,
            operation,
          })),
      );
    // The scene: the whole val-coop history, so path ids exist and the domain answers on state.
    const scene = await runScenarioSteps(
      valCoop as Scenario,
      httpSender(() => 'http://in-process', authorization, injectFetch(server.app)),
    );
    expect(failedSteps(scene)).toEqual([]);
  });
  afterAll(async () => {
    await server?.close();
  });

  const send = (method: 'POST' | 'PATCH', url: string, payload: unknown, media = 'application/json') =>
    server.app.inject({
      method,
      url,
      headers: { authorization, 'content-type': media },
      payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
    });
  /** A write's request body: JSON for a single write, NDJSON for an import. */
  const requestMedia = (operation: WriteOperation['operation']) => {
    const [media, content] = Object.entries(operation.requestBody?.content ?? {})[0] ?? [];
    return { media: media ?? 'application/json', content };
  };

  test('the document is OpenAPI 3.1 and lists the write routes of API.md', () => {
    expect(document.openapi.startsWith('3.1')).toBe(true);
    // 11 membership + 9 working-group + 3 decision routes.
    expect(writes.length).toBeGreaterThanOrEqual(23);
  });

  test('every POST and PATCH under /v1/ptces has a request body with at least one example', () => {
    const without = writes
      .filter(({ operation }) => examplesOf(requestMedia(operation).content).length === 0)
      .map(({ method, template }) => `${method} ${template}`);
    expect(without).toEqual([]);
  });

  test('every write route documents an example of its success answer', () => {
    const without = writes
      .filter(({ operation }) => {
        const success = operation.responses?.['201'] ?? operation.responses?.['200'];
        return examplesOf(success?.content?.['application/json']).length === 0;
      })
      .map(({ method, template }) => `${method} ${template}`);
    expect(without).toEqual([]);
  });

  test("each request example passes the route's own validation", async () => {
    const refused: string[] = [];
    let sent = 0;
    for (const { method, template, operation } of writes) {
      const url = concretePath(template);
      const { media, content } = requestMedia(operation);
      for (const example of examplesOf(content)) {
        const reply = await send(method, url, example, media);
        sent += 1;
        const problem = reply.statusCode >= 400 ? reply.json<{ code?: string; detail?: string }>() : {};
        // Past validation the domain may refuse on state (an id already used, a date already
        // past); anything else — a 400, or an auth or routing failure that would skip
        // validation altogether — means the example proves nothing.
        if (![200, 201, 404, 409, 422].includes(reply.statusCode) || problem.code === 'validation_failed') {
          refused.push(`${method} ${url} ${JSON.stringify(example)} -> ${reply.statusCode} ${reply.body}`);
        }
        if (reply.statusCode === 404 && problem.detail?.startsWith('No route')) {
          refused.push(`${method} ${url} matches no route`);
        }
      }
    }
    expect(refused).toEqual([]);
    expect(sent).toBeGreaterThanOrEqual(writes.length);
  });

  test('the check can fail: each example with an unknown field is refused as validation_failed', async () => {
    const accepted: string[] = [];
    for (const { method, template, operation } of writes) {
      const [example] = examplesOf(operation.requestBody?.content?.['application/json']);
      if (typeof example !== 'object' || example === null) continue;
      const url = concretePath(template);
      const reply = await send(method, url, { ...example, notInTheSchema: true });
      const problem = reply.json<{ code?: string }>();
      if (reply.statusCode !== 400 || problem.code !== 'validation_failed') {
        accepted.push(`${method} ${url} -> ${reply.statusCode} ${reply.body}`);
      }
    }
    expect(accepted).toEqual([]);
  });
});
