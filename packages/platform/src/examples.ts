import type { z } from 'zod';

/**
 * Publishes examples with a schema in the OpenAPI document: zod's `examples` meta flows into
 * the generated JSON schema, and @fastify/swagger lifts it into the media object. Typed by the
 * schema's input, so an example that loses a field or keeps a removed one fails the typecheck;
 * the OpenAPI end-to-end test sends each one to its route for the rules types miss.
 */
export function withExamples<S extends z.ZodType>(schema: S, examples: [z.input<S>, ...z.input<S>[]]): S {
  return schema.meta({ examples });
}

/** The examples `withExamples` published with a schema, to build others from them. */
export function examplesOf<S extends z.ZodType>(schema: S): z.input<S>[] {
  return ((schema.meta() as { examples?: z.input<S>[] } | undefined)?.examples ?? []).slice();
}
