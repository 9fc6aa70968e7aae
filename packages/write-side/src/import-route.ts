import {
  type App,
  type OpenApiTag,
  principalOf,
  problemResponse,
  storeUnavailableResponse,
  withExamples,
} from '@ptce/platform';
import { z } from 'zod';
import { authorizeWrite, ptceParamsSchema } from './http.ts';
import { type ImportLine, importReportSchema, runImport } from './import.ts';
import type { UpstreamWrites } from './upstream-writes.ts';
import type { WriteCatalog } from './write-catalog.ts';

export const NDJSON = 'application/x-ndjson';

export interface ImportRouteOptions {
  readonly catalog: WriteCatalog;
  /** The other services of a split deployment, which write the lines this process does not own. */
  readonly upstreams: UpstreamWrites;
  readonly bodyLimit: number;
  readonly maxLines: number;
  readonly tag: OpenApiTag;
  /** Lines of an example file for the document: the routes' own examples, so each is valid. */
  readonly example?: readonly ImportLine[];
}

const importQuerySchema = z.strictObject({
  dryRun: z
    .enum(['true', 'false'])
    .optional()
    .transform((v) => v === 'true')
    .describe('true: decide every line against the current history and record nothing'),
  source: z
    .string()
    .regex(/^[0-9a-f]{64}$/, 'the SHA-256 of the whole file, in lowercase hex')
    .optional()
    .describe(
      "When the body is one part of a larger file: the whole file's SHA-256 (hex), which names its lines' derived keys. Default: the body's own.",
    ),
  firstLine: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      "When the body is one part of a larger file: the number, in that file, of the body's first line (default 1).",
    ),
});

/** The body's schema, with an example file made of lines the owner of the route gives. */
function importBodySchema(example: readonly ImportLine[]) {
  const description =
    'NDJSON: one write per line, `{"method": "POST"|"PATCH", "path": "/v1/ptces/{ptceId}/…", "body": {…}, "idempotencyKey"?: "…"}` — the route and the body as the REST API takes them, and an optional key (else one derived from the file and the line number). Blank lines are skipped and counted.';
  const file = example.map((line) => JSON.stringify(line)).join('\n');
  return file === ''
    ? z.string().describe(description)
    : withExamples(z.string().describe(description), [file]);
}

const importReportExample = withExamples(importReportSchema, [
  {
    dryRun: false,
    lines: 2,
    recorded: 1,
    replayed: 1,
    refused: 0,
    results: [
      {
        line: 1,
        status: 201,
        idempotencyKey: 'import:9f2c0b6e4f7a1d3c8b5e2a7f6d4c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b:1',
        replayed: true,
        result: {
          ptceId: 'val-coop',
          eventIds: ['342eaa88-03e7-4c91-b26b-8a00e3a0fcc2'],
          position: '00000000000000000001',
          revision: 0,
        },
      },
      {
        line: 2,
        status: 201,
        idempotencyKey: 'registre-2017-ligne-2',
        result: {
          ptceId: 'val-coop',
          organisationId: 'cc-val',
          eventIds: ['5b7c1e9a-2f4d-4c8b-9a6e-1d3f5b7c9e2a'],
          position: '00000000000000000002',
          revision: 1,
        },
      },
    ],
  },
]);

/**
 * `POST /v1/ptces/{ptceId}/imports`: a PTCE's past in one request. The file's limits (bytes,
 * lines) are the deployment's; a line is refused alone, with the problem its route would answer.
 */
export function importRoute(app: App, options: ImportRouteOptions): void {
  // Parsed as text: each line is read as JSON by the import, which names the line that is not.
  app.addContentTypeParser(
    NDJSON,
    { parseAs: 'string', bodyLimit: options.bodyLimit },
    (_request, body, done) => done(null, body),
  );
  app.route({
    method: 'POST',
    url: '/v1/ptces/:ptceId/imports',
    bodyLimit: options.bodyLimit,
    schema: {
      operationId: 'importPtceHistory',
      tags: [options.tag.name],
      summary: "Import a PTCE's history: one write per NDJSON line, applied in order",
      description: `Each line is decided on the history as the lines before it left it, and gets its own result: the status and answer its route would give, or its problem; a refused line records nothing and the next lines go on. A line without an idempotency key gets one derived from the file's SHA-256 and its line number, so a file sent again resumes where it stopped and records nothing twice (a file sent in parts gives each part \`source\` and \`firstLine\`). At most ${options.maxLines} lines (413 too_many_lines; IMPORT_MAX_LINES) and ${options.bodyLimit} bytes (413; IMPORT_BODY_LIMIT) per request. \`dryRun=true\` decides every line and records nothing.`,
      params: ptceParamsSchema,
      querystring: importQuerySchema,
      consumes: [NDJSON],
      body: importBodySchema(options.example ?? []),
      response: {
        200: importReportExample,
        403: problemResponse("role_forbidden or out_of_scope: outside the caller's role or PTCE scope"),
        413: problemResponse(
          `too_many_lines (more than ${options.maxLines} lines) or payload_too_large (more than ${options.bodyLimit} bytes): nothing recorded; send the file in parts`,
        ),
        501: problemResponse(
          'dry_run_needs_every_service: a dry run of lines another service of a split deployment writes',
        ),
        503: storeUnavailableResponse,
      },
    },
    handler: async (request) => {
      const { ptceId } = request.params as z.output<typeof ptceParamsSchema>;
      const query = request.query as z.output<typeof importQuerySchema>;
      const principal = principalOf(request);
      authorizeWrite(principal, ptceId);
      return runImport({
        catalog: options.catalog,
        ptceId,
        principal,
        correlationId: request.id,
        text: request.body as string,
        ...(query.source ? { source: query.source } : {}),
        ...(query.firstLine ? { firstLine: query.firstLine } : {}),
        dryRun: query.dryRun,
        maxLines: options.maxLines,
        ...(options.upstreams.configured
          ? {
              forward: options.upstreams.forwarder({
                authorization: request.headers.authorization ?? '',
                requestId: request.id,
              }),
            }
          : {}),
      });
    },
  });
}
