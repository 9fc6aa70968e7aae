import type { DecideContext, EventToAppend, Ledger } from '@ptce/domain';
import type { EventEnvelope, StreamFamily } from '@ptce/events';
import type { App, OpenApiTag, SealingKeys } from '@ptce/platform';
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import type { WriteDeps } from './execute.ts';
import { authorizeWrite, handleWrite, writeHeadersSchema } from './http.ts';
import { personalSubjectsOf, sealPersonalFields } from './personal-fields.ts';
import { ptceTarget, writeResponses } from './ptce.ts';

/** What a write service decides with: its stream family and its decider. */
export interface WriteService<Command> {
  readonly family: StreamFamily;
  readonly tag: OpenApiTag;
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
  /**
   * The method a generated client shows (verb first, camelCase), written here so that renaming
   * the URL never renames a client's method.
   */
  readonly operationId: string;
  readonly summary: string;
  readonly description: string;
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
  /**
   * Whether this request's events may carry a natural person's personal fields (see
   * PERSONAL_FIELDS), from its body alone and erring on yes: their data keys are then unwrapped
   * before the decision, which seals those fields. Left out for a route whose events never do.
   */
  readonly mayNamePerson?: (body: z.output<Body>) => boolean;
  /** Who may send it; default admin and secretary. */
  readonly roles?: readonly ('admin' | 'secretary')[];
  /** Runs once the request is authorized and the command known, before it is decided. */
  readonly before?: (asked: AskedWrite<Command>, request: FastifyRequest) => Promise<void>;
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
        operationId: route.operationId,
        tags: [service.tag.name],
        summary: route.summary,
        description: route.description,
        ...(route.params ? { params: route.params } : {}),
        headers: writeHeadersSchema,
        body: route.body,
        response: writeResponses(route.status, route.result, route.params !== undefined),
      },
      handler: async (request, reply) => {
        // The schemas above validated both: these are their outputs.
        const asked = route.ask({
          params: request.params as z.output<Params>,
          body: request.body as z.output<Body>,
          request,
        });
        const target = ptceTarget(service.family, asked.ptceId);
        const decide = (ledger: Ledger, now: number) => service.decide(asked.command, ledger, { now });
        // Before anything is prepared for the write: no key is made or destroyed for a caller that
        // may not send it.
        authorizeWrite(request, asked.ptceId, route.roles);
        if (route.before) await route.before(asked, request);
        let keys: SealingKeys | undefined;
        if (route.mayNamePerson?.(request.body as z.output<Body>)) {
          // A first decision on the ledger as it stands names the persons whose keys sealing
          // needs; the real one runs synchronously in the batcher, where no key can be fetched.
          const loaded = await service.deps.ledgers.load(target.readStreams);
          let subjects: string[] = [];
          try {
            subjects = personalSubjectsOf(
              decide(loaded.state, (service.deps.now ?? Date.now)()),
              loaded.state,
              asked.ptceId,
            );
          } catch {
            // Refused on this ledger: the real decision gives the refusal, or, if the ledger has
            // moved and it now names a person, asks for the write again.
          }
          if (subjects.length > 0) {
            if (!service.deps.personalData)
              throw new Error('no personal data keys: a natural person cannot be recorded');
            keys = await service.deps.personalData.prepare(subjects);
          }
        }
        return handleWrite(service.deps, request, reply, {
          ...target,
          ...(route.roles ? { roles: route.roles } : {}),
          body: request.body,
          decide: route.mayNamePerson
            ? (ledger, now) => sealPersonalFields(decide(ledger, now), ledger, asked.ptceId, keys)
            : decide,
          respond: (appended) => ({
            status: route.status,
            body: { ptceId: asked.ptceId, ...asked.names, ...route.derive?.(appended) },
          }),
        });
      },
    });
  };
}
