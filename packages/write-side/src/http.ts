import type { EventToAppend } from '@ptce/domain';
import {
  type EventEnvelope,
  evidenceSchema,
  NOT_PERSONAL,
  reasonSchema,
  slugSchema,
  validTimeSchema,
} from '@ptce/events';
import { type Principal, preconditionFailed, requirePtceScope, requireRole } from '@ptce/platform';
import { z } from 'zod';
import {
  executeWrite,
  requestFingerprint,
  type WriteAnswer,
  type WriteCommand,
  type WriteDeps,
} from './execute.ts';
import { generatedId } from './ids.ts';
import type { WriteContext } from './write-context.ts';

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

/** What an Idempotency-Key is bound to: method, path (decoded, no query) and body. */
function writeRequestOf(context: WriteContext, body: unknown) {
  return { method: context.method, url: context.path, body: body ?? null };
}

/**
 * The id of a resource a create request left unnamed, from the caller and its Idempotency-Key
 * (see `generatedId`): a retry of the request names the same resource, a reuse of an
 * expired key with another body another one.
 */
export function generatedIdFor(prefix: string, context: WriteContext, body: unknown): string {
  const { principal, idempotencyKey } = context;
  // Without a key the id is random: hashing the canonical body would be wasted on every create.
  if (idempotencyKey === undefined) return generatedId(prefix, { sub: principal.sub });
  return generatedId(prefix, {
    sub: principal.sub,
    idempotencyKey,
    fingerprint: requestFingerprint(writeRequestOf(context, body)),
  });
}

/** Who may write, by role, within their PTCE scope. */
export function authorizeWrite(
  principal: Principal,
  ptceId: string,
  roles: readonly ('admin' | 'secretary')[] = ['admin', 'secretary'],
): void {
  requireRole(principal, ...roles);
  requirePtceScope(principal, ptceId);
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

/** The revision an If-Match names; a weak tag is well-formed (no 400) but never matches. */
export function ifMatchRevision(ifMatch: string | undefined): number | undefined {
  if (ifMatch === undefined) return undefined;
  // RFC 9110 §13.1.1: If-Match compares strongly.
  if (ifMatch.startsWith('W/')) {
    throw preconditionFailed(
      `If-Match ${ifMatch} is a weak entity tag, which never matches; send the ETag as returned, e.g. "3".`,
    );
  }
  return Number(ifMatch.slice(1, -1));
}

/** The command `executeWrite` runs for a write validated and authorized. */
export function writeCommandOf<S>(context: WriteContext, input: WriteRouteInput<S>): WriteCommand<S> {
  const ifMatch = ifMatchRevision(context.ifMatch);
  return {
    ptceId: input.ptceId,
    stream: input.stream,
    readStreams: input.readStreams,
    recordedBy: context.principal.sub,
    correlationId: context.correlationId,
    ...(context.idempotencyKey ? { idempotencyKey: context.idempotencyKey } : {}),
    ...(ifMatch !== undefined ? { ifMatch } : {}),
    request: writeRequestOf(context, input.body),
    decide: input.decide,
    respond: input.respond,
  };
}

/**
 * The whole of a write once its schemas have validated it: role and scope, Idempotency-Key and
 * If-Match, decide and append, the answer with its ETag. Every refusal is thrown as the problem
 * it is.
 */
export function runWrite<S>(
  deps: WriteDeps<S>,
  context: WriteContext,
  input: WriteRouteInput<S>,
): Promise<WriteAnswer> {
  authorizeWrite(context.principal, input.ptceId, input.roles);
  return executeWrite(deps, writeCommandOf(context, input));
}
