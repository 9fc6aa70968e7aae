import type { DecideContext, EventToAppend, Ledger } from '@ptce/domain';
import type { EventEnvelope, StreamFamily } from '@ptce/events';
import type { App } from '@ptce/platform';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { WriteDeps } from './execute.ts';
import { handleWrite, writeHeadersSchema } from './http.ts';
import { ptceTarget, writeResponses } from './ptce.ts';

/** What a write service decides with: its stream family and its decider. */
export interface WriteService<Command> {
  readonly family: StreamFamily;
  readonly tags: readonly string[];
  readonly deps: WriteDeps<Ledger>;
  readonly decide: (command: Command, ledger: Ledger, ctx: DecideContext) => readonly EventToAppend[];
}

/** What a validated request asks for: the PTCE, the domain command, the ids the answer names. */
export interface AskedWrite<Command> {
  readonly ptceId: string;
  readonly command: Command;
  readonly names?: Readonly<Record<string, unknown>>;
}

export interface WriteRoute<Params extends z.ZodType, Body extends z.ZodType, Command> {
  readonly method: 'POST' | 'PATCH';
  readonly url: string;
  readonly summary: string;
  readonly description?: string;
  /** Left out for a route with no path parameters (registering a PTCE). */
  readonly params?: Params;
  readonly body: Body;
  /** 201 for what a write creates, 200 for a correction or an action on an existing resource. */
  readonly status: 200 | 201;
  /** The answer's schema: the write result and the ids it names, with the derived fields. */
  readonly result: z.ZodType;
  readonly ask: (input: {
    readonly params: z.output<Params>;
    readonly body: z.output<Body>;
    readonly request: FastifyRequest;
  }) => AskedWrite<Command>;
  /** Fields of the answer derived from what was stored (a decision's outcome and rules). */
  readonly derive?: (appended: readonly EventEnvelope[]) => Readonly<Record<string, unknown>>;
}

/**
 * Every write route has one shape: schemas for params, headers, body and answers (which both
 * validate and publish the OpenAPI document), then role and scope, Idempotency-Key and If-Match,
 * decide on the PTCE's ledger, append to the service's stream, answer with the ids it names. A
 * service lists its routes; this is the one place that shape is written.
 */
export function writeRoutes<Command>(app: App, service: WriteService<Command>) {
  return <Params extends z.ZodType, Body extends z.ZodType>(
    route: WriteRoute<Params, Body, Command>,
  ): void => {
    app.route({
      method: route.method,
      url: route.url,
      schema: {
        tags: [...service.tags],
        summary: route.summary,
        ...(route.description ? { description: route.description } : {}),
        ...(route.params ? { params: route.params } : {}),
        headers: writeHeadersSchema,
        body: route.body,
        response: writeResponses(route.status, route.result),
      },
      handler: (request, reply) => {
        // The schemas above validated both: these are their outputs.
        const asked = route.ask({
          params: request.params as z.output<Params>,
          body: request.body as z.output<Body>,
          request,
        });
        return handleWrite(service.deps, request, reply, {
          ...ptceTarget(service.family, asked.ptceId),
          body: request.body,
          decide: (ledger, now) => service.decide(asked.command, ledger, { now }),
          respond: (appended) => ({
            status: route.status,
            body: { ptceId: asked.ptceId, ...asked.names, ...route.derive?.(appended) },
          }),
        });
      },
    });
  };
}
