import { isDeepStrictEqual } from 'node:util';
import {
  eligibilityAnswer,
  legalTransitionAnswer,
  listAnswer,
  participationAnswer,
  stageAnswer,
  stateAnswer,
  timelineAnswer,
} from '@ptce/read-models';
import { startTestServer, type TestServer } from '@ptce/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

interface MediaObject {
  readonly schema?: { readonly examples?: unknown };
  readonly example?: unknown;
  readonly examples?: Readonly<Record<string, { readonly value?: unknown }>>;
}
interface Operation {
  readonly responses?: Readonly<Record<string, { readonly content?: Readonly<Record<string, MediaObject>> }>>;
}
interface OpenApiDocument {
  readonly paths: Readonly<Record<string, Readonly<Record<string, Operation>>>>;
}

/**
 * @fastify/swagger moves a schema's `examples` into the media object (`example` for one,
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

/** What the test asks of a zod schema (this package does not depend on zod itself). */
interface AnswerSchema {
  safeParse(
    value: unknown,
  ): { success: true; data: unknown } | { success: false; error: { message: string } };
}

/** The answer schema of each read route, by its OpenAPI path. */
const ANSWERS: Readonly<Record<string, AnswerSchema>> = {
  '/v1/ptces': listAnswer,
  '/v1/ptces/{ptceId}': stateAnswer,
  '/v1/ptces/{ptceId}/stage': stageAnswer,
  '/v1/ptces/{ptceId}/stage/timeline': timelineAnswer,
  '/v1/ptces/{ptceId}/legal-transition': legalTransitionAnswer,
  '/v1/ptces/{ptceId}/eligibility': eligibilityAnswer,
  '/v1/ptces/{ptceId}/participation': participationAnswer,
};

interface ReadOperation {
  readonly template: string;
  readonly examples: unknown[];
}

describe('the OpenAPI document carries an example of every read answer', () => {
  let server: TestServer;
  let reads: ReadOperation[];

  beforeAll(async () => {
    server = await startTestServer();
    const answer = await server.app.inject({ method: 'GET', url: '/docs/json' });
    expect(answer.statusCode).toBe(200);
    const document = answer.json<OpenApiDocument>();
    reads = Object.entries(document.paths)
      .filter(([template]) => template === '/v1/ptces' || template.startsWith('/v1/ptces/'))
      .flatMap(([template, operations]) => {
        const success = operations.get?.responses?.['200'];
        return success ? [{ template, examples: examplesOf(success.content?.['application/json']) }] : [];
      });
  });
  afterAll(async () => {
    await server?.close();
  });

  test('the GET routes under /v1/ptces answering 200 are the read answers of @ptce/read-models', () => {
    expect(reads.map((read) => read.template).sort()).toEqual(Object.keys(ANSWERS).sort());
  });

  test('every one has at least one example of its 200 answer', () => {
    expect(reads.filter((read) => read.examples.length === 0).map((read) => read.template)).toEqual([]);
  });

  test('each example is an answer of its schema, with no field the schema would strip', () => {
    const wrong: string[] = [];
    for (const { template, examples } of reads) {
      const schema = ANSWERS[template];
      if (!schema) continue; // the first test names it
      for (const example of examples) {
        const parsed = schema.safeParse(example);
        if (!parsed.success) wrong.push(`${template}: ${parsed.error.message}`);
        else if (!isDeepStrictEqual(parsed.data, example)) {
          wrong.push(`${template}: the schema drops or changes part of ${JSON.stringify(example)}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  test('the check can fail: an example without its position (in the list, of an unknown stage) is refused', () => {
    const accepted: string[] = [];
    for (const { template, examples } of reads) {
      const schema = ANSWERS[template];
      const [example] = examples;
      if (!schema || typeof example !== 'object' || example === null) continue;
      const broken = Array.isArray(example)
        ? [{ ...(example[0] as object), stage: 'not_a_stage' }]
        : { ...example, position: undefined };
      if (schema.safeParse(broken).success) accepted.push(template);
    }
    expect(accepted).toEqual([]);
  });
});
