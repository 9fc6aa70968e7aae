import { type Ledger, type LogPrefixes, ledgerFinal } from '@ptce/domain';
import type { EventStore } from '@ptce/event-store';
import { parisDate, slugSchema } from '@ptce/events';
import {
  type App,
  type OpenApiTag,
  type PersonalData,
  ProblemError,
  principalOf,
  problemResponse,
  requirePtceScope,
  requireRole,
  storeUnavailableResponse,
  zodPlugin,
} from '@ptce/platform';
import { DEFAULT_WINDOW_MONTHS, ledgerAt, rulesVersion, type StageRules, stageOf } from '@ptce/projections';
import {
  eligibilityAnswer,
  eligibilityBody,
  knownAtCut,
  type ListEntry,
  type LogCut,
  legalTransitionAnswer,
  legalTransitionBody,
  listAnswer,
  type ModelRead,
  Projector,
  type ProjectorLock,
  type ProjectorOptions,
  type PtceLedgers,
  type PtceLog,
  type PtceReadModel,
  participationAnswer,
  participationBody,
  type ReadModelStore,
  registeredPtceIds,
  revealState,
  type SealedStateBody,
  type StateBody,
  stageAnswer,
  stageBody,
  stageBodyOnPrefix,
  stateAnswer,
  stateBody,
  timelineAnswer,
  timelineBody,
} from '@ptce/read-models';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import {
  listQuerySchema,
  participationQuerySchema,
  type ReadQuery,
  readQuerySchema,
  timelineQuerySchema,
} from './query.ts';

/** What the read service takes from its host. */
export interface ProjectionsOptions {
  readonly store: EventStore;
  /** The deployment's stage thresholds (STAGE_RULES), validated at start-up. */
  readonly rules: StageRules;
  /** Milliseconds since the epoch: "now" for asOf and knownAt. */
  readonly now: () => number;
  /** The PTCE's folded logs, kept between requests (and extended by the projector). */
  readonly ledgers: PtceLedgers;
  /** Opens natural persons' names for the state answer. */
  readonly personalData: PersonalData;
  /** Where the projector keeps the current answers; without it every read is computed. */
  readonly models?: ReadModelStore | undefined;
  /** Needed when several processes share the models (Redis): only its holder projects. */
  readonly lock?: ProjectorLock | undefined;
  /** Batches, rest and tick of the projector (tests shorten them). */
  readonly projector?: Pick<ProjectorOptions, 'batchSize' | 'tickMs' | 'restFactor' | 'gatherMs'>;
}

export const projectionsTag: OpenApiTag = {
  name: 'projections',
  description:
    'What the history says at a valid time, as known at a transaction time: creation stage, state, legal transition, eligibility, participation.',
};
const tags = [projectionsTag.name];
/** Current answers kept as the JSON text sent (each a few KB). */
const SENT_ANSWERS = 2_000;
const READERS = ['secretary', 'auditor', 'admin'] as const;

const ptceParams = z.strictObject({ ptceId: slugSchema });
const readResponses = <S extends z.ZodType>(success: S) => ({
  200: success,
  304: z.null().describe('If-None-Match names the current ETag: the answer has not changed'),
  400: problemResponse(
    'validation_failed (each field named in `errors`): an impossible date, or knownAt and atPosition together',
  ),
  403: problemResponse("outside the caller's role or scope (funders read signed snapshots)"),
  404: problemResponse('no PTCE of that id registered in the log prefix read'),
  409: problemResponse(
    'position_not_reached: the log prefix read ends before minPosition (a cut before it, or a store behind)',
  ),
  503: storeUnavailableResponse,
});

const ptceNotFound = (ptceId: string) =>
  new ProblemError(404, 'ptce_not_found', `No PTCE ${ptceId} is registered in the part of the log read.`);

/**
 * The ETag of a read: the position of the prefix it was computed on and the rules it was judged
 * by. A read whose valid time is "now" also moves with the Paris day (a stage stalls with time
 * alone), so its tag names the day; a read at a given asOf needs only the position.
 */
function etagOf(position: string, rules: string, day: string | null): string {
  return `"${position};${rules}${day === null ? '' : `;${day}`}"`;
}

/** True when If-None-Match names `etag` (or `*`); weak comparison, as RFC 9110 asks for GET. */
function notModified(request: FastifyRequest, etag: string): boolean {
  const header = request.headers['if-none-match'];
  if (!header) return false;
  const tags = header.split(',').map((tag: string) => tag.trim().replace(/^W\//, ''));
  return tags.includes('*') || tags.includes(etag);
}

/** Sends 304 when the caller has this answer already; otherwise sets the ETag and says to compute it. */
function conditional(request: FastifyRequest, reply: FastifyReply, etag: string): boolean {
  reply.header('etag', etag);
  reply.header('cache-control', 'private, no-cache');
  if (!notModified(request, etag)) return false;
  reply.code(304);
  return true;
}

/**
 * A read given `minPosition` whose prefix ends before it: the write it names is not in what was
 * read, and an answer without it would silently break read-your-writes.
 */
function positionNotReached(
  minPosition: string,
  position: string | null,
  storeBehind: boolean,
): ProblemError {
  const detail = storeBehind
    ? `The event store read has not reached position ${minPosition} yet (it ends at ${position ?? 'nothing'}); retry shortly.`
    : `The part of the log asked for (knownAt or atPosition) ends at ${position ?? 'nothing'}, before position ${minPosition}.`;
  const problem = new ProblemError(409, 'position_not_reached', detail, { minPosition, position });
  return storeBehind ? problem.withHeaders({ 'retry-after': '1' }) : problem;
}

const behind = (minPosition: string | undefined, at: string | null): boolean =>
  minPosition !== undefined && (at === null || at < minPosition);

type TransactionTime = {
  knownAt?: string | undefined;
  atPosition?: string | undefined;
  minPosition?: string | undefined;
};

/** A read of the log as it stands, with no transaction time of its own: the projector's models can answer it. */
const readsNow = (query: TransactionTime): boolean =>
  query.knownAt === undefined && query.atPosition === undefined;

/** The part of the log a read was computed on, and where it ends. */
interface Read {
  readonly ledger: Ledger;
  /** For a read of the past, the prefix index `ledger` is the first `ledger.size` events of. */
  readonly prefixes: LogPrefixes | null;
  readonly position: string;
  /** The knownAt given; for a read of the log as it stands, when its last event was recorded; null for atPosition. */
  readonly knownAt: string | null;
}

/** Where an answer was read: `knownAt` and `position`, as every answer carries them. */
const placed = (read: { knownAt: string | null; position: string }) => ({
  knownAt: read.knownAt,
  position: read.position,
});

/**
 * The read service: the creation stage of a PTCE at a valid time as known at a transaction
 * time, its stage timeline, its state, legal transition, eligibility and participation, and the
 * PTCE in the caller's scope.
 *
 * A read of the log as it stands ("now", or a `minPosition` the projector has reached) is
 * answered from the projector's model when it holds one for today; anything else is computed
 * from the PTCE's folded log, kept between requests and brought up to date from the store's
 * tails, cut to the `knownAt` or `atPosition` asked. Both give the same answer: the model is
 * that computation, made once by the projector.
 */
export const projectionsService = zodPlugin<ProjectionsOptions>(async (app: App, options) => {
  const version = rulesVersion(options.rules);
  const { ledgers, models, lock } = options;
  /**
   * Whether every committed write moves the store's head: on SQLite (one writer at a time) and
   * KurrentDB (positions in commit order), not on PostgreSQL, whose head stops short of a
   * transaction still open while a later one has committed (see `headPosition`).
   */
  const headCoversCommits = options.store.kind !== 'postgres';

  if (models) {
    const projector = new Projector({
      store: options.store,
      models,
      ledgers,
      rules: options.rules,
      clock: options.now,
      ...(lock ? { lock } : {}),
      log: app.log.child({ component: 'projector' }),
      ...options.projector,
    });
    app.decorate('projector', projector);
    app.addHook('onReady', async () => projector.start());
    app.addHook('onClose', async () => {
      await projector.stop();
      lock?.close();
    });
  }

  /**
   * The valid time a read answers for and, for a read of "now", the Paris day its ETag carries:
   * from one reading of the clock. A current read is as of today, the whole Paris day: the same
   * answer all day for the same log, which is what lets it be kept and tagged by position and day.
   */
  const answeredAt = (query: { asOf?: string | undefined }): { asOf: string; day: string | null } => {
    if (query.asOf !== undefined) return { asOf: query.asOf, day: null };
    const day = parisDate(options.now());
    return { asOf: day, day };
  };

  /** The PTCE's log as the store has it now: read once more when it lacks `minPosition` (a replica catching up). */
  const latest = async (ptceId: string, minPosition: string | undefined): Promise<PtceLog> => {
    const log = await ledgers.latest(ptceId);
    return behind(minPosition, log.head) ? ledgers.latest(ptceId) : log;
  };

  /**
   * The projector's model of the PTCE, when it can answer this read: a current read (no knownAt
   * or atPosition), on the model's day, of a model that has every event of the PTCE the store
   * holds (so a read after a write sees it, as a computed read would). When the projector's
   * checkpoint is the store's head, every model is complete and one query says so; otherwise the
   * PTCE's streams are read, and the log is handed back for the computed answer. Redis down is no
   * error: the read is computed instead.
   */
  const currentModel = async (
    request: FastifyRequest,
    ptceId: string,
    query: TransactionTime,
    /** The day of a current read; `any` for the timeline, which has no valid time; null for a read at asOf. */
    day: string | 'any' | null,
  ): Promise<{ model: PtceReadModel | null; log: PtceLog | null }> => {
    const none = { model: null, log: null };
    if (!models || day === null || !readsNow(query)) return none;
    let found: ModelRead;
    try {
      found = await models.read(ptceId);
    } catch (err) {
      request.log.warn({ err }, 'read models unavailable: computing the answer');
      return none;
    }
    const { model, checkpoint } = found;
    if (!model || (day !== 'any' && model.day !== day)) return none;
    // Ahead of this process's read of the store, the model may hold minPosition; if not, the
    // computed read says how far the store is.
    if (behind(query.minPosition, model.position)) return none;
    if (headCoversCommits) {
      const head = await options.store.headPosition();
      if (!behind(head ?? undefined, checkpoint)) return { model, log: null };
    }
    const log = await latest(ptceId, query.minPosition);
    return log.head !== null && model.position >= log.head ? { model, log } : { model: null, log };
  };

  /**
   * Current answers, as the JSON text sent, by route, PTCE, position and day: an answer of the log
   * as it stands is a function of these alone (its knownAt is when its last event was recorded),
   * so a PTCE that has not changed is answered with the same bytes, computed and serialized once,
   * whether a read model or the folded log gave it.
   */
  const sentAnswers = new Map<string, string>();
  const sendCurrent = (
    reply: FastifyReply,
    route: string,
    ptceId: string,
    position: string,
    day: string,
    answer: () => object,
  ) => {
    const key = `${route}\u0000${ptceId}\u0000${position}\u0000${day}`;
    let text = sentAnswers.get(key);
    if (text === undefined) {
      text = JSON.stringify(answer());
      if (sentAnswers.size >= SENT_ANSWERS) sentAnswers.delete(sentAnswers.keys().next().value!);
      sentAnswers.set(key, text);
    }
    return reply.type('application/json; charset=utf-8').send(text);
  };
  const sendModel = (reply: FastifyReply, route: string, model: PtceReadModel, body: object) =>
    sendCurrent(reply, route, model.ptceId, model.position, model.day, () => ({ ...body, ...placed(model) }));

  /**
   * The part of the PTCE's log a read asks for: the log cut in transaction time, 409 when it ends
   * before `minPosition`, 404 unless the registration is in it.
   */
  const readOf = (log: PtceLog, query: TransactionTime): Read => {
    const { minPosition } = query;
    const cut: LogCut | null =
      query.atPosition !== undefined
        ? { kind: 'atPosition', position: query.atPosition }
        : query.knownAt !== undefined
          ? knownAtCut(query.knownAt)
          : null;
    // A read of the past (a cut, or a valid time of its own) goes through the log's prefix index;
    // one of the log as it stands needs none, and its answer is kept as text (see sendCurrent).
    const past = cut !== null || ('asOf' in query && query.asOf !== undefined);
    const { ledger, prefixes } = past
      ? ledgers.cutWithPrefixes(log, cut)
      : { ledger: log.ledger, prefixes: null };
    const last = ledger.last?.event;
    const position = last?.position ?? null;
    if (behind(minPosition, position)) {
      throw positionNotReached(minPosition!, position, behind(minPosition, log.head));
    }
    const registered = prefixes
      ? prefixes.registered(ledger.size)
      : ledgerFinal(ledger).registration !== null;
    if (!last || !registered) throw ptceNotFound(log.ptceId);
    const knownAt = query.atPosition !== undefined ? null : (query.knownAt ?? last.recordedAt);
    return { ledger, prefixes, position: last.position, knownAt };
  };

  const authorize = (request: FastifyRequest, ptceId: string) => {
    requireRole(request, ...READERS);
    requirePtceScope(request, ptceId);
  };

  app.get(
    '/v1/ptces/:ptceId/stage',
    {
      schema: {
        tags,
        operationId: 'getStage',
        summary: 'The creation stage of a PTCE at asOf, as known at knownAt (or atPosition)',
        description:
          'The stage (not_started to effective) that the stage thresholds in force give, with what it rests on. asOf is a valid time (default now), knownAt a transaction time (default: everything recorded) or atPosition a position of the log; with minPosition (a position a write answered), a read that does not reach it is refused. The ETag names what the answer was computed on: send it as If-None-Match for a 304.',
        params: ptceParams,
        querystring: readQuerySchema,
        response: readResponses(stageAnswer),
      },
    },
    async (request, reply) =>
      answerAt(
        request,
        reply,
        request.params.ptceId,
        request.query,
        'stage',
        (model) => model.stage,
        (ledger, asOf, read) =>
          read.prefixes
            ? stageBodyOnPrefix(read.prefixes, ledger.size, asOf, options.rules)
            : stageBody(ledger, asOf, options.rules),
      ),
  );

  app.get(
    '/v1/ptces/:ptceId/stage/timeline',
    {
      schema: {
        tags,
        operationId: 'getStageTimeline',
        summary: 'The stages a PTCE went through, day by day, as known at knownAt (or atPosition)',
        description:
          'One entry per run of days at the same stage, a fall back to an earlier stage included, as the history known at knownAt (or atPosition) tells it.',
        params: ptceParams,
        querystring: timelineQuerySchema,
        response: readResponses(timelineAnswer),
      },
    },
    async (request, reply) => {
      const { ptceId } = request.params;
      authorize(request, ptceId);
      // The timeline has no valid time: a model of any day holds it.
      const current = await currentModel(request, ptceId, request.query, 'any');
      if (current.model) {
        if (conditional(request, reply, etagOf(current.model.position, version, null)))
          return reply.send(null);
        return sendModel(reply, 'timeline', current.model, current.model.timeline);
      }
      const read = readOf(current.log ?? (await latest(ptceId, request.query.minPosition)), request.query);
      if (conditional(request, reply, etagOf(read.position, version, null))) return reply.send(null);
      const answer = () => ({ ...timelineBody(read.ledger, options.rules), ...placed(read) });
      if (!readsNow(request.query)) return answer();
      return sendCurrent(reply, 'timeline', ptceId, read.position, 'any', answer);
    },
  );

  /**
   * The routes answering at a valid time: the model's answer for a current read it can give, or
   * the answer computed on the part of the log asked for. Null once a 304 is sent.
   */
  const answerAt = async <T extends object>(
    request: FastifyRequest,
    reply: FastifyReply,
    ptceId: string,
    query: ReadQuery,
    route: string,
    fromModel: (model: PtceReadModel) => T | null,
    compute: (ledger: Ledger, asOf: string, read: Read) => T | null,
    /**
     * Turns the answer into what is sent, when that needs I/O (a natural person's name opened by
     * its key). What it gives holds personal data: it is never kept, neither as text nor as a model.
     */
    finish?: (answer: T) => Promise<T>,
  ): Promise<(T & { knownAt: string | null; position: string }) | FastifyReply> => {
    authorize(request, ptceId);
    const { asOf, day } = answeredAt(query);
    const current = await currentModel(request, ptceId, query, day);
    const kept = current.model ? fromModel(current.model) : null;
    if (current.model && kept) {
      if (conditional(request, reply, etagOf(current.model.position, version, day))) return reply.send(null);
      if (finish) return { ...(await finish(kept)), ...placed(current.model) };
      return sendModel(reply, route, current.model, kept);
    }
    const read = readOf(current.log ?? (await latest(ptceId, query.minPosition)), query);
    if (conditional(request, reply, etagOf(read.position, version, day))) return reply.send(null);
    const answer = () => {
      const computed = compute(read.ledger, asOf, read);
      if (computed === null) throw ptceNotFound(ptceId);
      return { ...computed, ...placed(read) };
    };
    if (finish) return { ...(await finish(answer())), ...placed(read) };
    if (day === null || !readsNow(query)) return answer();
    return sendCurrent(reply, route, ptceId, read.position, day, answer);
  };

  app.get(
    '/v1/ptces/:ptceId',
    {
      schema: {
        tags,
        operationId: 'getPtce',
        summary: 'The state of a PTCE at asOf, as known at knownAt (or atPosition)',
        description:
          "Members, pilot, spaces and enrolments, activities, the shared legal entity and its associates, decisions, recognitions and warnings. A natural person's name is opened for the caller, or shown as erased. asOf is a valid time (default now), knownAt a transaction time (default: everything recorded) or atPosition a position of the log; with minPosition (a position a write answered), a read that does not reach it is refused. The ETag names what the answer was computed on: send it as If-None-Match for a 304.",
        params: ptceParams,
        querystring: readQuerySchema,
        response: readResponses(stateAnswer),
      },
    },
    async (request, reply) => {
      const { ptceId } = request.params;
      // What `finish` gives is a StateBody: every sealed name opened or marked erased.
      return answerAt<SealedStateBody>(
        request,
        reply,
        ptceId,
        request.query,
        'state',
        (model) => model.state,
        (ledger, asOf) => stateBody(ptceId, ledger, asOf),
        (state) => revealState(state, options.personalData),
      ) as Promise<(StateBody & { knownAt: string | null; position: string }) | FastifyReply>;
    },
  );

  app.get(
    '/v1/ptces/:ptceId/legal-transition',
    {
      schema: {
        tags,
        operationId: 'getLegalTransition',
        summary:
          'Where the PTCE stands in its move to a shared legal entity at asOf, as known at knownAt (or atPosition)',
        description:
          "The phase reached and its steps, the legal form and the entity, and the associates' share of the active members. asOf is a valid time (default now), knownAt a transaction time (default: everything recorded) or atPosition a position of the log; with minPosition (a position a write answered), a read that does not reach it is refused. The ETag names what the answer was computed on: send it as If-None-Match for a 304.",
        params: ptceParams,
        querystring: readQuerySchema,
        response: readResponses(legalTransitionAnswer),
      },
    },
    async (request, reply) => {
      return answerAt(
        request,
        reply,
        request.params.ptceId,
        request.query,
        'legal-transition',
        (model) => model.legalTransition,
        legalTransitionBody,
      );
    },
  );

  app.get(
    '/v1/ptces/:ptceId/eligibility',
    {
      schema: {
        tags,
        operationId: 'getEligibility',
        summary:
          'Whether the PTCE meets the conditions of a State call at asOf, as known at knownAt (or atPosition)',
        description:
          'eligible, and each condition of the call: whether it holds, or is unknown because the history lacks what it needs. asOf is a valid time (default now), knownAt a transaction time (default: everything recorded) or atPosition a position of the log; with minPosition (a position a write answered), a read that does not reach it is refused. The ETag names what the answer was computed on: send it as If-None-Match for a 304.',
        params: ptceParams,
        querystring: readQuerySchema,
        response: readResponses(eligibilityAnswer),
      },
    },
    async (request, reply) => {
      return answerAt(
        request,
        reply,
        request.params.ptceId,
        request.query,
        'eligibility',
        (model) => model.eligibility,
        eligibilityBody,
      );
    },
  );

  app.get(
    '/v1/ptces/:ptceId/participation',
    {
      schema: {
        tags,
        operationId: 'getParticipation',
        summary:
          'How broad the participation is at asOf, over a window of windowMonths ending then, as known at knownAt (or atPosition)',
        description:
          'Coverage of the steering seats and of the categories, diversity (Blau) of members and seats, by category and by member, over the window. asOf is a valid time (default now), knownAt a transaction time (default: everything recorded) or atPosition a position of the log; with minPosition (a position a write answered), a read that does not reach it is refused. The ETag names what the answer was computed on: send it as If-None-Match for a 304.',
        params: ptceParams,
        querystring: participationQuerySchema,
        response: readResponses(participationAnswer),
      },
    },
    async (request, reply) => {
      const { windowMonths } = request.query;
      return answerAt(
        request,
        reply,
        request.params.ptceId,
        request.query,
        `participation:${windowMonths}`,
        // The model holds the default window only.
        (model) => (windowMonths === DEFAULT_WINDOW_MONTHS ? model.participation : null),
        (ledger, asOf) => participationBody(ledger, asOf, windowMonths),
      );
    },
  );

  /**
   * The current stage of each PTCE in `ids`, computed from its folded log; the furthest position
   * read, for minPosition. A PTCE of a scope that was never registered is not listed.
   */
  const computeList = async (ids: readonly string[]) => {
    const today = parisDate(options.now());
    const list: ListEntry[] = [];
    let reached: string | null = null;
    for (const ptceId of ids) {
      const { ledger, head } = await ledgers.latest(ptceId);
      if (head !== null && (reached === null || head > reached)) reached = head;
      const registration = ledgerFinal(ledger).registration;
      if (registration === null) continue;
      list.push({ ptceId, name: registration.name, stage: stageOf(ledgerAt(ledger, today), options.rules) });
    }
    return { list, reached };
  };

  /** The list from the models, when the projector has read the log past minPosition and modelled today. */
  const listFromModels = async (
    request: FastifyRequest,
    everyPtce: boolean,
    scope: readonly string[],
    minPosition: string | undefined,
  ): Promise<ListEntry[] | null> => {
    if (!models) return null;
    try {
      // A checkpoint exists only once every PTCE has been modelled up to it.
      const checkpoint = await models.checkpoint();
      if (checkpoint === null || behind(minPosition, checkpoint)) return null;
      // A PTCE registered since the projector's last batch has no model yet: the list would leave
      // it out, where the computed list names it. Models answer only once they hold the whole log
      // (the store's head is visibility-safe on PostgreSQL: nothing before it is still to commit).
      if (behind((await options.store.headPosition()) ?? undefined, checkpoint)) return null;
      const today = parisDate(options.now());
      const entries = (await models.list()).filter((entry) => everyPtce || scope.includes(entry.ptceId));
      // Models of another day (the projector has not yet moved them on): computed instead.
      if (entries.some((entry) => entry.day !== today)) return null;
      return entries.map(({ ptceId, name, stage }) => ({ ptceId, name, stage }));
    } catch (err) {
      request.log.warn({ err }, 'read models unavailable: computing the list');
      return null;
    }
  };

  app.get(
    '/v1/ptces',
    {
      schema: {
        tags,
        operationId: 'listPtces',
        summary: "The PTCE in the caller's scope, with their current stage",
        description:
          "Every registered PTCE for an admin or a token scoped to *, else those of the token's scope, each with its name and its stage today. With minPosition (a position a write answered), a read that does not reach it is refused (409).",
        querystring: listQuerySchema,
        response: {
          200: listAnswer,
          403: problemResponse("outside the caller's role"),
          409: problemResponse('position_not_reached: no PTCE in scope read reaches minPosition'),
          503: storeUnavailableResponse,
        },
      },
    },
    async (request) => {
      requireRole(request, ...READERS);
      const principal = principalOf(request);
      const everyPtce = principal.role === 'admin' || principal.ptces.includes('*');
      const { minPosition } = request.query;
      const fromModels = await listFromModels(request, everyPtce, principal.ptces, minPosition);
      if (fromModels) return fromModels;
      const ids = everyPtce ? await registeredPtceIds(options.store) : [...principal.ptces].sort();
      let read = await computeList(ids);
      // A write to a PTCE in scope not yet in what was read: once more, then refuse.
      if (behind(minPosition, read.reached)) read = await computeList(ids);
      if (behind(minPosition, read.reached)) throw positionNotReached(minPosition!, read.reached, true);
      return read.list;
    },
  );
});
