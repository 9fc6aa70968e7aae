import type { EventToAppend } from '@ptce/domain';
import {
  type EventEnvelope,
  evidenceSchema,
  NOT_PERSONAL,
  reasonSchema,
  slugSchema,
  validTimeSchema,
} from '@ptce/events';
import { preconditionFailed, principalOf, requirePtceScope, requireRole } from '@ptce/platform';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { executeWrite, requestFingerprint, type WriteDeps } from './execute.ts';
import { generatedId } from './ids.ts';

/** The headers a write may carry; others pass through untouched. */
export const writeHeadersSchema = z
  .object({
    'idempotency-key': z.string().min(1).max(200).optional(),
    'if-match': z
      .string()
      .regex(/^(W\/)?"\d+"$/, 'a revision returned earlier as ETag, e.g. "3"')
      .optional(),
  })
  .loose();

export const writeResultSchema = z.object({
  eventIds: z.array(z.string()).describe('ids of the events recorded, in order'),
  position: z.string().describe('opaque, ordered position of the last event in the log'),
  revision: z.number().int().describe('revision of the stream written; send it back as If-Match'),
});

export const occurredAtSchema = validTimeSchema.describe(
  'when the fact happened: a date YYYY-MM-DD (that day in Europe/Paris) or an ISO-8601 instant',
);

/** `occurredAt` and `evidence`, common to every write body that records a fact. */
export const factFields = {
  occurredAt: occurredAtSchema,
  evidence: evidenceSchema.optional(),
};

/** Corrections and retractions act in transaction time: a reason, no occurredAt. */
export const correctionFields = {
  reason: reasonSchema.describe(`Why the record is corrected. ${NOT_PERSONAL}`),
};

export const ptceParamsSchema = z.strictObject({ ptceId: slugSchema });

/** A write's `respond` that names the PTCE and the ids of what it wrote; nothing derived. */
export function respondNaming(status: 200 | 201, ptceId: string, ids: Record<string, unknown> = {}) {
  return () => ({ status, body: { ptceId, ...ids } });
}

/**
 * The id of a resource a create request left unnamed, from the caller and its Idempotency-Key
 * (see `generatedId`): a retry of the request names the same resource, a reuse of an
 * expired key with another body another one.
 */
export function generatedIdFor(prefix: string, request: FastifyRequest): string {
  const idempotencyKey = writeHeadersSchema.parse(request.headers)['idempotency-key'];
  // Without a key the id is random: hashing the canonical body would be wasted on every create.
  if (idempotencyKey === undefined) return generatedId(prefix, { sub: principalOf(request).sub });
  return generatedId(prefix, {
    sub: principalOf(request).sub,
    idempotencyKey,
    fingerprint: requestFingerprint(writeRequestOf(request, request.body)),
  });
}

/**
 * The path as the route understood it: its pattern with the parsed parameters in place. The URL
 * as sent would fingerprint `/v1/ptces/%70%31/members` and `/v1/ptces/p1/members` (one route,
 * one PTCE) apart; a plain path comes out as it was sent, so fingerprints stored before stay valid.
 */
function routePath(request: FastifyRequest): string {
  const pattern = request.routeOptions.url;
  if (pattern === undefined) return request.url.split('?')[0] ?? '';
  const params = request.params as Record<string, unknown>;
  return pattern.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => String(params[name]));
}

/** What an Idempotency-Key is bound to: method, path (decoded, no query) and body. */
function writeRequestOf(request: FastifyRequest, body: unknown) {
  return { method: request.method, url: routePath(request), body: body ?? null };
}

/** Who may write, by role, within their PTCE scope; the principal. */
export function authorizeWrite(
  request: FastifyRequest,
  ptceId: string,
  roles: readonly ('admin' | 'secretary')[] = ['admin', 'secretary'],
) {
  const principal = requireRole(request, ...roles);
  requirePtceScope(request, ptceId);
  return principal;
}

export interface WriteRouteInput<S> {
  readonly ptceId: string;
  /** Who may send it; default admin and secretary. */
  readonly roles?: readonly ('admin' | 'secretary')[];
  readonly stream: string;
  readonly readStreams: readonly string[];
  readonly body: unknown;
  readonly decide: (state: S, now: number) => readonly EventToAppend[];
  readonly respond: (
    appended: readonly EventEnvelope[],
    result: { position: string; revision: number },
  ) => { status: number; body: Record<string, unknown> };
}

/**
 * The whole of a write route once its schemas have validated the request: role and scope,
 * Idempotency-Key and If-Match, decide and append, problem+json for every refusal, ETag.
 */
export async function handleWrite<S>(
  deps: WriteDeps<S>,
  request: FastifyRequest,
  reply: FastifyReply,
  input: WriteRouteInput<S>,
): Promise<void> {
  const principal = authorizeWrite(request, input.ptceId, input.roles);
  const headers = writeHeadersSchema.parse(request.headers);
  // RFC 9110 §13.1.1: If-Match compares strongly, and a weak tag never matches. Well-formed, so
  // not a 400: the precondition is simply false.
  if (headers['if-match']?.startsWith('W/')) {
    throw preconditionFailed(
      `If-Match ${headers['if-match']} is a weak entity tag, which never matches; send the ETag as returned, e.g. "3".`,
    );
  }
  const ifMatch = headers['if-match'] ? Number(headers['if-match'].slice(1, -1)) : undefined;
  const answer = await executeWrite(deps, {
    ptceId: input.ptceId,
    stream: input.stream,
    readStreams: input.readStreams,
    recordedBy: principal.sub,
    correlationId: request.id,
    ...(headers['idempotency-key'] ? { idempotencyKey: headers['idempotency-key'] } : {}),
    ...(ifMatch !== undefined ? { ifMatch } : {}),
    request: writeRequestOf(request, input.body),
    decide: input.decide,
    respond: input.respond,
  });
  await reply.code(answer.status).header('etag', answer.etag).send(answer.body);
}
