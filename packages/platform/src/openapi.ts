import type { FastifySchema } from 'fastify';
import { createJsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PROBLEM_MEDIA_TYPE, problemSchema } from './problem.ts';

/** One media type of an answer, as Fastify takes it in a response schema. */
export interface MediaObject {
  readonly schema: z.ZodType;
}

/**
 * An answer given in media types of its own (text/csv, text/html, problem+json, or JSON beside
 * one of those), in the shape Fastify itself knows: it serialises each media type with its own
 * schema. `headers` are documented only: Fastify sets none from them.
 */
export interface MediaResponse {
  readonly description: string;
  readonly content: Readonly<Record<string, MediaObject>>;
  readonly headers?: Readonly<Record<string, { readonly description: string; readonly type: 'string' }>>;
}

/** An OpenAPI tag, declared once at the top of the document with what it groups. */
export interface OpenApiTag {
  readonly name: string;
  readonly description: string;
}

/** The tag of the routes every process answers itself: health and the caller. */
export const OPERATIONS_TAG: OpenApiTag = {
  name: 'operations',
  description: 'What every process answers itself: liveness, readiness and the caller as its token says.',
};

/**
 * The document's `info.license`. The repository grants no licence yet: this follows the root
 * package.json's `"license": "UNLICENSED"` (npm's word for none granted) until the team chooses one,
 * and changes with it.
 */
export const API_LICENSE = { name: 'UNLICENSED' } as const;

export const API_CONTACT = { name: 'PTCE Ledger team' } as const;

/**
 * No setting names the public base URL, and the same paths answer on one process and behind the
 * gateway: a relative server is true of both.
 */
export const API_SERVERS = [{ url: '/', description: 'the host that served this document' }] as const;

const PROBLEM_COMPONENT = 'Problem';
const PROBLEM_REF = { $ref: `#/components/schemas/${PROBLEM_COMPONENT}` } as const;

/**
 * A refusal of a route: its problem+json body, with what makes the route answer that status, and
 * the headers sent with it (`retry-after`, `www-authenticate`…) by name, with what each says.
 */
export function problemResponse(
  description: string,
  headers: Readonly<Record<string, string>> = {},
): MediaResponse {
  const documented = Object.entries(headers).map(([name, says]) => [
    name,
    { type: 'string' as const, description: says },
  ]);
  return {
    description,
    content: { [PROBLEM_MEDIA_TYPE]: { schema: problemSchema } },
    ...(documented.length > 0 ? { headers: Object.fromEntries(documented) } : {}),
  };
}

/** The store's outage, as every route that reads or writes the log answers it. */
export const storeUnavailableResponse = problemResponse('store_unavailable: the event store is unreachable', {
  'retry-after': 'seconds to wait before retrying',
});

/**
 * The refusals the platform gives on any route, whatever the route does; the transform adds each
 * one a route can meet and does not document itself, so no route repeats them.
 */
const PLATFORM_REFUSALS = {
  400: problemResponse(
    'validation_failed (each offending field in `errors`) or malformed_body: the request does not match its schema',
  ),
  401: problemResponse('unauthorized: no bearer token, or one that is expired, revoked or not ours', {
    'www-authenticate': 'the Bearer challenge of RFC 6750, realm="ptce-ledger"',
  }),
  413: problemResponse('payload_too_large: the body is larger than BODY_LIMIT'),
  415: problemResponse(
    'unsupported_media_type (send application/json) or unsupported_content_encoding (send the body uncompressed)',
  ),
  429: problemResponse('rate_limited: too many requests from this client address in the minute', {
    'retry-after': 'seconds until the client may send again',
  }),
  500: problemResponse(
    'internal: an unexpected error; the details are in the server log, never in the answer',
  ),
} as const;

type Transform = ReturnType<typeof createJsonSchemaTransform>;
type TransformInput = Parameters<Transform>[0];
type TransformOutput = ReturnType<Transform>;

interface DocumentedRoute {
  readonly config?: { readonly public?: boolean; readonly rateLimit?: unknown };
}

const isMediaResponse = (answer: unknown): answer is MediaResponse =>
  typeof answer === 'object' && answer !== null && 'content' in answer;

/** The refusals of the platform that this route can meet, from what it takes and how it is configured. */
function platformRefusals(schema: FastifySchema, route: DocumentedRoute | undefined) {
  const config = route?.config ?? {};
  const takesInput = [schema.params, schema.querystring, schema.body, schema.headers].some(Boolean);
  return {
    ...(takesInput ? { 400: PLATFORM_REFUSALS[400] } : {}),
    ...(config.public === true ? {} : { 401: PLATFORM_REFUSALS[401] }),
    ...(schema.body ? { 413: PLATFORM_REFUSALS[413], 415: PLATFORM_REFUSALS[415] } : {}),
    // Counted by the app's own hook before authentication, on every route not opted out.
    ...(config.rateLimit === false ? {} : { 429: PLATFORM_REFUSALS[429] }),
    500: PLATFORM_REFUSALS[500],
  };
}

/**
 * The OpenAPI document's transform: fastify-type-provider-zod's, which takes one zod schema per
 * status and refuses the `{ description, content }` shape of a `MediaResponse`; those are
 * converted here media type by media type, with that same transform, so a text answer is
 * documented under its own media type rather than as JSON. The problem schema becomes a
 * reference to the one `Problem` component, and the platform's own refusals are added to every
 * route that can meet them.
 */
export function openApiTransform(): Transform {
  const zodTransform = createJsonSchemaTransform({ skipList: [] });
  const mediaSchema = (input: TransformInput, schema: z.ZodType): unknown => {
    if (schema === problemSchema) return PROBLEM_REF;
    const { schema: converted } = zodTransform({ ...input, schema: { response: { 200: schema } } });
    return (converted as { response: Record<string, unknown> }).response['200'];
  };
  return (input) => {
    const schema = (input.schema ?? {}) as FastifySchema;
    if (schema.hide) return zodTransform(input);
    const declared = (schema.response ?? {}) as Record<string, unknown>;
    const answers = Object.entries({
      ...platformRefusals(schema, (input as { route?: DocumentedRoute }).route),
      ...declared,
    });
    const plain = Object.fromEntries(answers.filter(([, answer]) => !isMediaResponse(answer)));
    const transformed: TransformOutput = zodTransform({
      ...input,
      schema: { ...schema, response: plain },
    });
    const documented = (transformed.schema as { response?: Record<string, unknown> }).response ?? {};
    for (const [status, answer] of answers) {
      if (!isMediaResponse(answer)) continue;
      documented[status] = {
        description: answer.description,
        ...(answer.headers ? { headers: answer.headers } : {}),
        content: Object.fromEntries(
          Object.entries(answer.content).map(([media, { schema: body, ...rest }]) => [
            media,
            { ...rest, schema: mediaSchema(input, body) },
          ]),
        ),
      };
    }
    return { ...transformed, schema: { ...transformed.schema, response: sortedByStatus(documented) } };
  };
}

function sortedByStatus(responses: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The `Problem` component every refusal refers to, converted once from the zod schema. Typed as
 * the object schema it is: @fastify/swagger wants one of OpenAPI's own schema types.
 */
export function problemComponent(): Record<string, { readonly type: 'object' }> {
  const { $schema: _dialect, ...schema } = z.toJSONSchema(problemSchema, {
    target: 'draft-2020-12',
    io: 'output',
  });
  return { [PROBLEM_COMPONENT]: { ...schema, type: 'object' } };
}
