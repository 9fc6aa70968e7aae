import { type Principal, principalOf } from '@ptce/platform';
import type { FastifyRequest } from 'fastify';
import { writeHeadersSchema } from './headers.ts';

/**
 * Who sends a write and how, apart from its body: what a write route reads from its HTTP request,
 * and what a line of an import carries for it. The same write then decides, stores and answers
 * alike, whichever way it came.
 */
export interface WriteContext {
  readonly principal: Principal;
  readonly method: string;
  /** The route's pattern with its parsed parameters in place (see `routePath`). */
  readonly path: string;
  readonly idempotencyKey?: string | undefined;
  /** The If-Match header as sent: `"3"`, or a weak tag that never matches. */
  readonly ifMatch?: string | undefined;
  /** The request id, kept on the events as their correlation id. */
  readonly correlationId: string;
}

/**
 * The path as the route understood it: its pattern with the parsed parameters in place. The URL
 * as sent would fingerprint `/v1/ptces/%70%31/members` and `/v1/ptces/p1/members` (one route,
 * one PTCE) apart; a plain path comes out as it was sent, so fingerprints stored before stay valid.
 */
export function routePath(pattern: string, params: Readonly<Record<string, unknown>>): string {
  return pattern.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => String(params[name]));
}

export function writeContextOf(request: FastifyRequest): WriteContext {
  const headers = writeHeadersSchema.parse(request.headers);
  const pattern = request.routeOptions.url;
  return {
    principal: principalOf(request),
    method: request.method,
    path:
      pattern === undefined
        ? (request.url.split('?')[0] ?? '')
        : routePath(pattern, request.params as Record<string, unknown>),
    idempotencyKey: headers['idempotency-key'],
    ifMatch: headers['if-match'],
    correlationId: request.id,
  };
}
