import type { DecideContext, EventToAppend, Ledger } from '@ptce/domain';
import type { EventEnvelope, StreamFamily } from '@ptce/events';
import type { App, OpenApiTag, SealingKeys } from '@ptce/platform';
import type { z } from 'zod';
import { executeWrite, type WriteDeps } from './execute.ts';
import { REPLAYED_HEADER, writeHeadersSchema } from './headers.ts';
import { authorizeWrite, writeCommandOf } from './http.ts';
import { personalSubjectsOf, sealPersonalFields } from './personal-fields.ts';
import { ptceTarget, writeResponses } from './ptce.ts';
import { type CatalogedWrite, lineOutsidePtce, type WriteCatalog } from './write-catalog.ts';
import { type WriteContext, writeContextOf } from './write-context.ts';

/** What a write service decides with: its stream family and its decider. */
export interface WriteService<Command> {
  readonly family: StreamFamily;
  readonly tag: OpenApiTag;
  readonly deps: WriteDeps<Ledger>;
  readonly decide: (command: Command, ledger: Ledger, ctx: DecideContext) => readonly EventToAppend[];
  /** Where the service lists its writes for an import in the same process (see `WriteCatalog`). */
  readonly catalog?: WriteCatalog | undefined;
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
    readonly context: WriteContext;
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
  readonly before?: (asked: AskedWrite<Command>, context: WriteContext) => Promise<void>;
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
    const write = catalogedWrite(service, route);
    service.catalog?.add(write);
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
        const command = await write.prepare(request.params, request.body, writeContextOf(request));
        const answer = await executeWrite(service.deps, command);
        // Tells a client (and an import forwarding a line) that this retry recorded nothing.
        if (answer.replayed) reply.header(REPLAYED_HEADER, 'true');
        await reply.code(answer.status).header('etag', answer.etag).send(answer.body);
      },
    });
  };
}

/** The write a route runs once its request is validated, whether it came over HTTP or in an import. */
function catalogedWrite<Params extends z.ZodType, Body extends z.ZodType, Command>(
  service: WriteService<Command>,
  route: WriteRoute<Params, Body, Command>,
): CatalogedWrite {
  const decideWith = (asked: AskedWrite<Command>) => (ledger: Ledger, now: number) =>
    service.decide(asked.command, ledger, { now });
  return {
    method: route.method,
    url: route.url,
    ...(route.params ? { params: route.params } : {}),
    body: route.body,
    status: route.status,
    deps: service.deps,
    readsStoredLedger: (body) =>
      route.before !== undefined || (route.mayNamePerson?.(body as z.output<Body>) ?? false),
    prepare: async (params, body, context, options = {}) => {
      const purpose = options.purpose ?? 'write';
      const asked = route.ask({
        params: params as z.output<Params>,
        body: body as z.output<Body>,
        context,
      });
      if (options.ptceId !== undefined && asked.ptceId !== options.ptceId) {
        throw lineOutsidePtce(options.ptceId, asked.ptceId);
      }
      const target = ptceTarget(service.family, asked.ptceId);
      const decide = decideWith(asked);
      // Before anything is prepared for the write: no key is made or destroyed for a caller that
      // may not send it.
      authorizeWrite(context.principal, asked.ptceId, route.roles);
      // A dry run neither destroys a key (an erasure) nor makes one: it seals nothing it decides.
      const seals = purpose === 'write' && route.mayNamePerson !== undefined;
      if (purpose === 'write' && route.before) await route.before(asked, context);
      let keys: SealingKeys | undefined;
      if (seals && route.mayNamePerson?.(body as z.output<Body>)) {
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
      return writeCommandOf(context, {
        ...target,
        ...(route.roles ? { roles: route.roles } : {}),
        body,
        decide: seals
          ? (ledger, now) => sealPersonalFields(decide(ledger, now), ledger, asked.ptceId, keys)
          : decide,
        respond: (appended) => ({
          status: route.status,
          body: { ptceId: asked.ptceId, ...asked.names, ...route.derive?.(appended) },
        }),
      });
    },
  };
}
