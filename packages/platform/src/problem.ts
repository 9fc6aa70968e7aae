import { STATUS_CODES } from 'node:http';
import { DomainError } from '@ptce/domain';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { z } from 'zod';

export const PROBLEM_TYPE_BASE = 'https://ptce-ledger.dev/problems/';
export const PROBLEM_MEDIA_TYPE = 'application/problem+json';
export const PROBLEM_CONTENT_TYPE = `${PROBLEM_MEDIA_TYPE}; charset=utf-8`;

export interface ProblemFieldError {
  /** Dotted path inside `in`, e.g. `territory.name`; empty for the whole value. */
  readonly path: string;
  readonly message: string;
  /** Which part of the request: body, querystring, params or headers. */
  readonly in?: string;
}

/** RFC 9457 problem details, plus our stable `code`. */
export interface Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly instance: string;
  readonly errors?: readonly ProblemFieldError[];
  readonly [extension: string]: unknown;
}

/** What `sendProblem` sends: the OpenAPI document's one `Problem` component is made from it. */
export const problemSchema = z
  .object({
    type: z.string().describe(`${PROBLEM_TYPE_BASE}{code}`),
    title: z.string().describe('the reason phrase of the status'),
    status: z.number().int().min(400).max(599),
    detail: z.string().describe('what is wrong, for a person'),
    code: z.string().describe('stable: what a client switches on'),
    instance: z.string().describe('the path of the request refused'),
    errors: z
      .array(
        z.object({
          path: z
            .string()
            .describe('dotted path inside `in`, e.g. `territory.name`; empty for the whole value'),
          message: z.string(),
          in: z.string().optional().describe('body, querystring, params or headers'),
        }),
      )
      .optional()
      .describe('each offending field of a validation_failed request'),
  })
  .loose()
  .describe(
    'RFC 9457 problem details with a stable `code`; some codes add members of their own (`conflicts`, `limit`, `down`…).',
  );

/** Throw from a route or a hook; the central error handler renders it as problem+json. */
export class ProblemError extends Error {
  override readonly name = 'ProblemError';
  /** Response headers to send with the problem (WWW-Authenticate, Retry-After…). */
  readonly headers: Record<string, string> = {};
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly extra?: Record<string, unknown>,
  ) {
    super(detail);
  }

  withHeaders(headers: Record<string, string>): this {
    Object.assign(this.headers, headers);
    return this;
  }
}

export const badRequest = (detail: string, code = 'bad_request', extra?: Record<string, unknown>) =>
  new ProblemError(400, code, detail, extra);
export const validationFailed = (
  errors: readonly ProblemFieldError[],
  detail = 'The request is not valid.',
) => new ProblemError(400, 'validation_failed', detail, { errors });
export const unauthorized = (detail = 'A valid bearer token is required.', code = 'unauthorized') =>
  new ProblemError(401, code, detail).withHeaders({
    'www-authenticate': 'Bearer realm="ptce-ledger", error="invalid_token"',
  });
export const forbidden = (detail: string, code = 'forbidden') => new ProblemError(403, code, detail);
export const notFound = (detail: string, code = 'not_found') => new ProblemError(404, code, detail);
export const conflict = (detail: string, code = 'conflict', extra?: Record<string, unknown>) =>
  new ProblemError(409, code, detail, extra);
export const preconditionFailed = (detail: string, code = 'precondition_failed') =>
  new ProblemError(412, code, detail);
export const unprocessable = (detail: string, code = 'unprocessable', extra?: Record<string, unknown>) =>
  new ProblemError(422, code, detail, extra);
export const storeUnavailable = (detail = 'The event store is unreachable; retry shortly.') =>
  new ProblemError(503, 'store_unavailable', detail).withHeaders({ 'retry-after': '5' });

export function problemBody(
  status: number,
  code: string,
  detail: string,
  instance: string,
  extra?: Record<string, unknown>,
): Problem {
  return {
    type: PROBLEM_TYPE_BASE + code,
    title: STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    instance,
    ...extra,
  };
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, error: ProblemError): FastifyReply {
  const body = problemBody(error.status, error.code, error.detail, request.url, error.extra);
  for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
  // Serialized here so that a route's own response schema never applies to an error body.
  return reply.code(error.status).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(body));
}

type Issue = z.core.$ZodIssue;

function dotted(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

/** Unknown keys count one each: a branch that knows the fields it was given fits better. */
function misfit(issues: readonly Issue[]): number {
  let count = 0;
  for (const issue of issues) {
    count += issue.code === 'unrecognized_keys' && Array.isArray(issue.keys) ? issue.keys.length : 1;
  }
  return count;
}

function fieldErrorsOf(
  issue: Issue,
  prefix: readonly PropertyKey[],
  at: { in?: string },
): ProblemFieldError[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === 'unrecognized_keys' && Array.isArray(issue.keys)) {
    return issue.keys.map((key) => ({ path: dotted([...path, key]), message: 'unknown field', ...at }));
  }
  // No branch of a union fits: what is wrong is what is wrong in the branch that fits best
  // (`vote.for` of a tally, not `vote`), at the innermost field.
  if (issue.code === 'invalid_union' && Array.isArray(issue.errors) && issue.errors.length > 0) {
    let closest = issue.errors[0] ?? [];
    for (const branch of issue.errors) if (misfit(branch) < misfit(closest)) closest = branch;
    if (closest.length > 0) return closest.flatMap((inner) => fieldErrorsOf(inner, path, at));
  }
  return [{ path: dotted(path), message: issue.message, ...at }];
}

/** One entry per offending field: an unknown-keys issue becomes one entry per unknown key. */
export function fieldErrorsFromIssues(issues: readonly Issue[], location?: string): ProblemFieldError[] {
  const at = location === undefined ? {} : { in: location };
  return issues.flatMap((issue) => fieldErrorsOf(issue, [], at));
}

function fieldErrorsFromFastify(error: FastifyError): ProblemFieldError[] {
  const location = error.validationContext;
  const at = location === undefined ? {} : { in: location };
  return (error.validation ?? []).flatMap((v) => {
    const base = v.instancePath.replace(/^\//, '').split('/').filter(Boolean);
    const params = v.params as Record<string, unknown>;
    const missing = params.missingProperty;
    // fastify-type-provider-zod hands each zod issue over as its code (the keyword), its path
    // (the instance path) and its other fields (the params).
    const issue = {
      ...params,
      code: v.keyword,
      path: typeof missing === 'string' ? [...base, missing] : base,
      message: v.message ?? 'invalid',
    } as Issue;
    return fieldErrorsOf(issue, [], at);
  });
}

const BY_FASTIFY_CODE: Record<string, { status: number; code: string; detail?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    code: 'payload_too_large',
    detail: 'The request body is too large.',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    code: 'unsupported_media_type',
    detail: 'Send application/json.',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'malformed_body', detail: 'The JSON body is empty.' },
  FST_ERR_CTP_INVALID_JSON_BODY: {
    status: 400,
    code: 'malformed_body',
    detail: 'The body is not valid JSON.',
  },
};

/** Maps anything thrown in the request lifecycle to one problem, without leaking internals on 5xx. */
export function toProblem(error: unknown): ProblemError {
  if (error instanceof ProblemError) return error;
  // A decider's refusal: its code and status are the domain's, its message and details name
  // what is wrong in the domain's words.
  if (error instanceof DomainError) {
    return new ProblemError(
      error.status,
      error.code,
      error.message,
      error.details ? { ...error.details } : undefined,
    );
  }
  if (hasZodFastifySchemaValidationErrors(error)) {
    return validationFailed(fieldErrorsFromFastify(error as unknown as FastifyError));
  }
  if (error instanceof z.ZodError) {
    return validationFailed(fieldErrorsFromIssues(error.issues));
  }
  if (!(error instanceof Error)) return new ProblemError(500, 'internal', 'An unexpected error occurred.');

  // Checked by name: the event-store package defines these classes, and an instanceof check
  // would break the day two copies of it are loaded.
  if (error.name === 'StoreUnavailableError') return storeUnavailable();
  if (error.name === 'RevisionConflictError') {
    return conflict('The record changed meanwhile; reload and retry.', 'revision_conflict');
  }
  // Event ids are derived from an Idempotency-Key: a clash is a client reusing one, never a 500.
  if (error.name === 'DuplicateEventIdError') {
    return conflict('These events were already recorded with another content.', 'duplicate_event');
  }

  const fastifyError = error as Partial<FastifyError>;
  if (Array.isArray(fastifyError.validation))
    return validationFailed(fieldErrorsFromFastify(error as FastifyError));
  const known = fastifyError.code ? BY_FASTIFY_CODE[fastifyError.code] : undefined;
  if (known) return new ProblemError(known.status, known.code, known.detail ?? error.message);
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    // Fastify's own 4xx errors describe the request, not the server, so their message is safe.
    if (status === 400 && error instanceof SyntaxError) {
      return new ProblemError(400, 'malformed_body', 'The body is not valid JSON.');
    }
    const code = (STATUS_CODES[status] ?? 'client error').toLowerCase().replace(/[^a-z0-9]+/g, '_');
    return new ProblemError(status, code, error.message);
  }
  return new ProblemError(500, 'internal', 'An unexpected error occurred.');
}
