import type { FastifySchema } from 'fastify';
import { createJsonSchemaTransform } from 'fastify-type-provider-zod';
import type { z } from 'zod';

/** One media type of an answer, as Fastify takes it in a response schema. */
export interface MediaObject {
  readonly schema: z.ZodType;
}

/**
 * An answer given in media types of its own (text/csv, text/html, or JSON beside one of those),
 * in the shape Fastify itself knows: it serialises each media type with its own schema.
 */
export interface MediaResponse {
  readonly description: string;
  readonly content: Readonly<Record<string, MediaObject>>;
}

type Transform = ReturnType<typeof createJsonSchemaTransform>;
type TransformInput = Parameters<Transform>[0];
type TransformOutput = ReturnType<Transform>;

const isMediaResponse = (answer: unknown): answer is MediaResponse =>
  typeof answer === 'object' && answer !== null && 'content' in answer;

/**
 * The OpenAPI document's transform: fastify-type-provider-zod's, which takes one zod schema per
 * status and refuses the `{ description, content }` shape of a `MediaResponse`; those are
 * converted here media type by media type, with that same transform, so a text answer is
 * documented under its own media type rather than as JSON.
 */
export function openApiTransform(): Transform {
  const zodTransform = createJsonSchemaTransform({ skipList: [] });
  const mediaSchema = (input: TransformInput, schema: z.ZodType): unknown => {
    const { schema: converted } = zodTransform({ ...input, schema: { response: { 200: schema } } });
    return (converted as { response: Record<string, unknown> }).response['200'];
  };
  return (input) => {
    const response = (input.schema as FastifySchema | undefined)?.response as
      | Record<string, unknown>
      | undefined;
    const answers = Object.entries(response ?? {});
    if (!answers.some(([, answer]) => isMediaResponse(answer))) return zodTransform(input);
    const plain = Object.fromEntries(answers.filter(([, answer]) => !isMediaResponse(answer)));
    const transformed: TransformOutput = zodTransform({
      ...input,
      schema: { ...input.schema, response: plain },
    });
    const documented = (transformed.schema as { response?: Record<string, unknown> }).response ?? {};
    for (const [status, answer] of answers) {
      if (!isMediaResponse(answer)) continue;
      documented[status] = {
        description: answer.description,
        content: Object.fromEntries(
          Object.entries(answer.content).map(([media, { schema, ...rest }]) => [
            media,
            { ...rest, schema: mediaSchema(input, schema) },
          ]),
        ),
      };
    }
    return { ...transformed, schema: { ...transformed.schema, response: documented } };
  };
}
