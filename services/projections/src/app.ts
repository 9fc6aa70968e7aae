import { type Ledger, type LedgerState, type LegalEntityState, ledgerFinal } from '@ptce/domain';
import type { EventStore } from '@ptce/event-store';
import { parisDate, slugSchema } from '@ptce/events';
import {
  type App,
  ProblemError,
  principalOf,
  problemSchema,
  requirePtceScope,
  requireRole,
  zodPlugin,
} from '@ptce/platform';
import {
  activeMembersOf,
  activitiesOf,
  ELIGIBILITY_CONDITIONS,
  eligibilityOf,
  LEGAL_PHASES,
  ledgerAt,
  legalTransitionOf,
  openSpacesOf,
  participationOf,
  rulesVersion,
  STAGES,
  type StageRules,
  stageAt,
  stageOf,
  stageTimeline,
  warnings,
} from '@ptce/projections';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { knownAtCut, type LogCut, loadLedger } from './ledger.ts';
import {
  instant,
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
}

const tags = ['projections'];
const READERS = ['secretary', 'auditor', 'admin'] as const;
/** How many of the latest decisions the PTCE's state lists. */
const RECENT_DECISIONS = 10;

const ptceParams = z.strictObject({ ptceId: slugSchema });
const stageSchema = z.enum(STAGES as [string, ...string[]]);
const labelSchema = z.object({ fr: z.string(), en: z.string() });
const warningSchema = z.object({
  eventId: z.string(),
  type: z.string(),
  code: z.string(),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});
const criterionSchema = z.object({
  id: z.string(),
  holds: z.boolean(),
  value: z.union([z.number(), z.boolean()]),
  threshold: z.union([z.number(), z.boolean()]),
});
const readAt = {
  knownAt: z.string().nullable().describe('the knownAt used; null when atPosition was given'),
  position: z
    .string()
    .describe(
      'the last position of the log prefix the answer was computed on; give it as atPosition to have it again',
    ),
};

const stageAnswer = z.object({
  stage: stageSchema,
  label: labelSchema,
  since: z.string().nullable().describe('the Paris day the stage was reached; null when not started'),
  stalled: z.boolean(),
  criteria: z.array(criterionSchema),
  core: z.array(z.string()),
  periphery: z.array(z.string()),
  outside: z.array(z.string()),
  rulesVersion: z.string(),
  asOf: z.string(),
  ...readAt,
  warnings: z.array(warningSchema),
});

const timelineAnswer = z.object({
  entries: z.array(
    z.object({
      stage: stageSchema,
      label: labelSchema,
      from: z.string().describe('the Paris day the stage was reached, at its end'),
      to: z.string().nullable().describe("the next entry's from; null for the stage still held"),
      cause: z.object({ eventId: z.string(), type: z.string() }),
    }),
  ),
  ...readAt,
  rulesVersion: z.string(),
  warnings: z.array(warningSchema),
});

const listAnswer = z.array(z.object({ ptceId: z.string(), name: z.string(), stage: stageSchema }));

const legalEntitySchema = z.object({
  name: z.string(),
  legalForm: z.string(),
  registrationId: z.string().optional(),
  registeredAt: z.string(),
});

const stateAnswer = z.object({
  ptceId: z.string(),
  name: z.string(),
  registeredAt: z.string(),
  registered: z.boolean().describe('whether the registration took effect by asOf'),
  members: z.array(
    z.object({
      organisationId: z.string(),
      name: z.string(),
      category: z.string(),
      joinedAt: z.string(),
      pilot: z.boolean(),
      associate: z.boolean(),
    }),
  ),
  spaces: z.array(
    z.object({ spaceId: z.string(), kind: z.string(), name: z.string(), enrolled: z.array(z.string()) }),
  ),
  activities: z.array(
    z.object({
      activityId: z.string(),
      name: z.string(),
      spaceId: z.string().optional(),
      launchedAt: z.string(),
      carriers: z.array(z.string()),
    }),
  ),
  legalEntity: legalEntitySchema.nullable(),
  recentDecisions: z
    .array(
      z.object({
        decisionId: z.string(),
        spaceId: z.string(),
        title: z.string(),
        outcome: z.string(),
        decidedAt: z.string(),
        annulled: z.boolean(),
      }),
    )
    .describe(`the latest ${RECENT_DECISIONS} decisions taken by asOf, oldest first`),
  warnings: z.array(warningSchema),
  asOf: z.string(),
  ...readAt,
});

const legalTransitionAnswer = z.object({
  phase: z.enum(LEGAL_PHASES as [string, ...string[]]),
  legalForm: z.string().nullable(),
  entity: legalEntitySchema.nullable(),
  associates: z.object({
    count: z.number().int(),
    share: z.number(),
    byCollege: z.record(z.string(), z.number().int()),
    withoutCollege: z.number().int(),
  }),
  steps: z.array(z.object({ step: z.string(), date: z.string(), decisionId: z.string().nullable() })),
  asOf: z.string(),
  ...readAt,
  warnings: z.array(warningSchema),
});

const eligibilityAnswer = z.object({
  eligible: z.boolean(),
  conditions: z.array(
    z.object({
      id: z.enum(ELIGIBILITY_CONDITIONS as [string, ...string[]]),
      holds: z.boolean(),
      unknown: z.boolean().describe('the ledger lacks what the condition needs'),
      detail: z.string(),
    }),
  ),
  asOf: z.string(),
  ...readAt,
  warnings: z.array(warningSchema),
});

const share = z.number().nullable();
const participationAnswer = z.object({
  window: z.object({
    from: z.string().describe('the first day of the window'),
    to: z.string(),
    months: z.number().int(),
  }),
  steeringCoverage: share,
  categoryCoverage: share,
  blau: z.object({ membership: share, steering: share }),
  byCategory: z.record(
    z.string(),
    z.object({
      members: z.number().int(),
      memberShare: share,
      steeringSeats: z.number().int(),
      seatShare: share,
      representationRatio: share,
      attendanceRate: share,
    }),
  ),
  byMember: z.array(
    z.object({
      organisationId: z.string(),
      category: z.string(),
      spaces: z.record(z.string(), z.number().int()),
      steeringSeats: z.number().int(),
      attendanceRate: share,
      meetingsHeld: z.number().int(),
      meetingsAttended: z.number().int(),
      decisionsAttended: z.number().int(),
      activitiesCoCarried: z.number().int(),
    }),
  ),
  asOf: z.string(),
  ...readAt,
  warnings: z.array(warningSchema),
});

const readResponses = <S extends z.ZodType>(success: S) => ({
  200: success,
  304: z.null().describe('If-None-Match names the current ETag: the answer has not changed'),
  400: problemSchema.describe('an impossible date, or knownAt and atPosition together'),
  401: problemSchema.describe('no token, or a bad one'),
  403: problemSchema.describe("outside the caller's role or scope (funders read signed snapshots)"),
  404: problemSchema.describe('no PTCE of that id registered in the log prefix read'),
  409: problemSchema.describe(
    'position_not_reached: the log prefix read ends before minPosition (a cut before it, or a store behind)',
  ),
  503: problemSchema.describe('the event store is unreachable; retry after Retry-After'),
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

interface Read {
  readonly ptceId: string;
  readonly ledger: Ledger;
  readonly final: LedgerState;
  readonly position: string;
  readonly knownAt: string | null;
}

/**
 * Reads the PTCE as its caller may: a reader's role and scope first (an unknown PTCE out of scope
 * is a 403, never a hint that it exists), then the log cut in transaction time, then 404 unless
 * the registration is in that prefix.
 */
async function readPtce(
  request: FastifyRequest,
  options: ProjectionsOptions,
  ptceId: string,
  query: { knownAt?: string | undefined; atPosition?: string | undefined; minPosition?: string | undefined },
): Promise<Read> {
  requireRole(request, ...READERS);
  requirePtceScope(request, ptceId);
  const knownAt = query.atPosition === undefined ? (query.knownAt ?? instant(options.now())) : null;
  const cut: LogCut =
    query.atPosition !== undefined
      ? { kind: 'atPosition', position: query.atPosition }
      : knownAtCut(knownAt!);
  const minPosition = query.minPosition;
  const behind = (at: string | null) => minPosition !== undefined && (at === null || at < minPosition);
  let loaded = await loadLedger(options.store, ptceId, cut);
  // The store has not reached the write (a replica catching up): read once more, then refuse.
  if (behind(loaded.head)) loaded = await loadLedger(options.store, ptceId, cut);
  const { ledger, position, head } = loaded;
  if (behind(position)) throw positionNotReached(minPosition!, position, behind(head));
  const final = ledgerFinal(ledger);
  if (final.registration === null || position === null) throw ptceNotFound(ptceId);
  return { ptceId, ledger, final, position, knownAt };
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

function entityView(entity: LegalEntityState | null): z.infer<typeof legalEntitySchema> | null {
  if (!entity) return null;
  return {
    name: entity.name,
    legalForm: entity.legalForm,
    ...(entity.registrationId ? { registrationId: entity.registrationId } : {}),
    registeredAt: entity.registeredAt,
  };
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
 * The read service: the creation stage of a PTCE at a valid time as known at a transaction
 * time, its stage timeline, its folded state, and the PTCE in the caller's scope. It only reads
 * the event store and computes with the domain's fold and the projections' pure functions:
 * nothing is kept between requests, so every process answers the same.
 */
export const projectionsService = zodPlugin<ProjectionsOptions>(async (app: App, options) => {
  const version = rulesVersion(options.rules);

  /**
   * The valid time a read answers for and, for a read of "now", the Paris day its ETag carries:
   * from one reading of the clock, so a read across midnight never pairs one day's answer with
   * the next day's tag.
   */
  const answeredAt = (query: ReadQuery): { asOf: string; day: string | null } => {
    if (query.asOf !== undefined) return { asOf: query.asOf, day: null };
    const now = options.now();
    return { asOf: instant(now), day: parisDate(now) };
  };

  app.get(
    '/v1/ptces/:ptceId/stage',
    {
      schema: {
        tags,
        summary: 'The creation stage of a PTCE at asOf, as known at knownAt (or atPosition)',
        params: ptceParams,
        querystring: readQuerySchema,
        response: readResponses(stageAnswer),
      },
    },
    async (request, reply) => {
      const { ptceId } = request.params;
      const read = await readPtce(request, options, ptceId, request.query);
      const { asOf, day } = answeredAt(request.query);
      if (conditional(request, reply, etagOf(read.position, version, day))) return reply.send(null);
      const answer = stageAt(read.ledger, asOf, options.rules);
      return {
        stage: answer.stage,
        label: answer.label,
        since: answer.since,
        stalled: answer.stalled,
        criteria: answer.criteria.map((c) => ({ ...c })),
        core: [...answer.core],
        periphery: [...answer.periphery],
        outside: [...answer.outside],
        rulesVersion: answer.rulesVersion,
        asOf,
        knownAt: read.knownAt,
        position: read.position,
        warnings: [...warnings(read.ledger, asOf)],
      };
    },
  );

  app.get(
    '/v1/ptces/:ptceId/stage/timeline',
    {
      schema: {
        tags,
        summary: 'The stages a PTCE went through, day by day, as known at knownAt (or atPosition)',
        params: ptceParams,
        querystring: timelineQuerySchema,
        response: readResponses(timelineAnswer),
      },
    },
    async (request, reply) => {
      const read = await readPtce(request, options, request.params.ptceId, request.query);
      if (conditional(request, reply, etagOf(read.position, version, null))) return reply.send(null);
      return {
        entries: stageTimeline(read.ledger, options.rules).map((entry) => ({ ...entry })),
        knownAt: read.knownAt,
        position: read.position,
        rulesVersion: version,
        warnings: [...warnings(read.ledger)],
      };
    },
  );

  app.get(
    '/v1/ptces/:ptceId',
    {
      schema: {
        tags,
        summary: 'The state of a PTCE at asOf, as known at knownAt (or atPosition)',
        params: ptceParams,
        querystring: readQuerySchema,
        response: readResponses(stateAnswer),
      },
    },
    async (request, reply) => {
      const read = await readPtce(request, options, request.params.ptceId, request.query);
      const { asOf, day } = answeredAt(request.query);
      if (conditional(request, reply, etagOf(read.position, version, day))) return reply.send(null);
      const state = ledgerAt(read.ledger, asOf);
      const registration = read.final.registration!;
      return {
        ptceId: read.ptceId,
        name: (state.registration ?? registration).name,
        registeredAt: registration.at,
        registered: state.registration !== null,
        members: activeMembersOf(state).map((m) => ({
          organisationId: m.organisationId,
          name: m.name,
          category: m.category,
          joinedAt: m.joinedAt,
          pilot: m.isPilot,
          associate: m.isAssociate,
        })),
        spaces: openSpacesOf(state).map((s) => ({
          spaceId: s.spaceId,
          kind: s.kind,
          name: s.name,
          enrolled: s.enrolled.map((e) => e.organisationId).sort(),
        })),
        activities: activitiesOf(state).map((a) => ({
          activityId: a.activityId,
          name: a.name,
          ...(a.spaceId ? { spaceId: a.spaceId } : {}),
          launchedAt: a.launchedAt,
          carriers: [...a.carriers],
        })),
        legalEntity: entityView(state.legalEntity),
        recentDecisions: [...state.decisions.values()].slice(-RECENT_DECISIONS).map((d) => ({
          decisionId: d.decisionId,
          spaceId: d.spaceId,
          title: d.title,
          outcome: d.outcome,
          decidedAt: d.decidedAt,
          annulled: d.annulled !== undefined,
        })),
        warnings: [...state.warnings],
        asOf,
        knownAt: read.knownAt,
        position: read.position,
      };
    },
  );

  /**
   * The state at asOf, for the routes that compute one thing of it: null once a 304 is sent
   * (the caller's copy is current, nothing to compute).
   */
  const stateAtAsOf = async (
    request: FastifyRequest,
    reply: FastifyReply,
    ptceId: string,
    query: ReadQuery,
  ) => {
    const read = await readPtce(request, options, ptceId, query);
    const { asOf, day } = answeredAt(query);
    if (conditional(request, reply, etagOf(read.position, version, day))) return null;
    const state = ledgerAt(read.ledger, asOf);
    const answered = { asOf, knownAt: read.knownAt, position: read.position, warnings: [...state.warnings] };
    return { state, asOf, answered };
  };

  app.get(
    '/v1/ptces/:ptceId/legal-transition',
    {
      schema: {
        tags,
        summary:
          'Where the PTCE stands in its move to a shared legal entity at asOf, as known at knownAt (or atPosition)',
        params: ptceParams,
        querystring: readQuerySchema,
        response: readResponses(legalTransitionAnswer),
      },
    },
    async (request, reply) => {
      const read = await stateAtAsOf(request, reply, request.params.ptceId, request.query);
      if (read === null) return reply.send(null);
      const transition = legalTransitionOf(read.state, read.asOf);
      return {
        phase: transition.phase,
        legalForm: transition.legalForm,
        entity: entityView(transition.entity),
        associates: { ...transition.associates, byCollege: { ...transition.associates.byCollege } },
        steps: transition.steps.map((step) => ({ ...step })),
        ...read.answered,
      };
    },
  );

  app.get(
    '/v1/ptces/:ptceId/eligibility',
    {
      schema: {
        tags,
        summary:
          'Whether the PTCE meets the conditions of a State call at asOf, as known at knownAt (or atPosition)',
        params: ptceParams,
        querystring: readQuerySchema,
        response: readResponses(eligibilityAnswer),
      },
    },
    async (request, reply) => {
      const read = await stateAtAsOf(request, reply, request.params.ptceId, request.query);
      if (read === null) return reply.send(null);
      const eligibility = eligibilityOf(read.state, read.asOf);
      return {
        eligible: eligibility.eligible,
        conditions: eligibility.conditions.map((c) => ({ ...c })),
        ...read.answered,
      };
    },
  );

  app.get(
    '/v1/ptces/:ptceId/participation',
    {
      schema: {
        tags,
        summary:
          'How broad the participation is at asOf, over a window of windowMonths ending then, as known at knownAt (or atPosition)',
        params: ptceParams,
        querystring: participationQuerySchema,
        response: readResponses(participationAnswer),
      },
    },
    async (request, reply) => {
      const read = await stateAtAsOf(request, reply, request.params.ptceId, request.query);
      if (read === null) return reply.send(null);
      const participation = participationOf(read.state, read.asOf, {
        windowMonths: request.query.windowMonths,
      });
      return {
        window: { ...participation.window },
        steeringCoverage: participation.steeringCoverage,
        categoryCoverage: participation.categoryCoverage,
        blau: { ...participation.blau },
        byCategory: Object.fromEntries(
          Object.entries(participation.byCategory).map(([category, c]) => [category, { ...c }]),
        ),
        byMember: participation.byMember.map((m) => ({ ...m, spaces: { ...m.spaces } })),
        ...read.answered,
      };
    },
  );

  app.get(
    '/v1/ptces',
    {
      schema: {
        tags,
        summary: "The PTCE in the caller's scope, with their current stage",
        querystring: listQuerySchema,
        response: {
          200: listAnswer,
          401: problemSchema.describe('no token, or a bad one'),
          403: problemSchema.describe("outside the caller's role"),
          409: problemSchema.describe('position_not_reached: no PTCE in scope read reaches minPosition'),
          503: problemSchema.describe('the event store is unreachable; retry after Retry-After'),
        },
      },
    },
    async (request) => {
      requireRole(request, ...READERS);
      const principal = principalOf(request);
      const everyPtce = principal.role === 'admin' || principal.ptces.includes('*');
      const { minPosition } = request.query;
      const listAll = async () => {
        const ids = everyPtce ? await registeredPtceIds(options.store) : [...principal.ptces].sort();
        const now = instant(options.now());
        const list: z.infer<typeof listAnswer> = [];
        let reached: string | null = null;
        for (const ptceId of ids) {
          const { ledger, position } = await loadLedger(options.store, ptceId, knownAtCut(now));
          if (position !== null && (reached === null || position > reached)) reached = position;
          const registration = ledgerFinal(ledger).registration;
          // A PTCE of a scope that was never registered is not listed: there is nothing to show.
          if (registration === null) continue;
          list.push({
            ptceId,
            name: registration.name,
            stage: stageOf(ledgerAt(ledger, now), options.rules),
          });
        }
        return { list, reached };
      };
      const behind = (at: string | null) => minPosition !== undefined && (at === null || at < minPosition);
      let read = await listAll();
      // A write to a PTCE in scope not yet in what was read: once more, then refuse.
      if (behind(read.reached)) read = await listAll();
      if (behind(read.reached)) throw positionNotReached(minPosition!, read.reached, true);
      return read.list;
    },
  );
});

/** Page size of the scan for registrations. */
const SCAN_PAGE = 1000;

/**
 * Every PTCE ever registered: the ids of the registration events of the whole log, read page by
 * page. A registration names its PTCE in the envelope (the `membership-{id}` stream's owner).
 */
async function registeredPtceIds(store: EventStore): Promise<string[]> {
  const ids = new Set<string>();
  let after: string | undefined;
  for (;;) {
    const page = await store.readAll({ ...(after === undefined ? {} : { after }), limit: SCAN_PAGE });
    for (const event of page) if (event.type === 'PtceRegistered') ids.add(event.ptceId);
    if (page.length < SCAN_PAGE) break;
    after = page.at(-1)!.position;
  }
  return [...ids].sort();
}
