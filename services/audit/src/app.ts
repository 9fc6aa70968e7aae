import { Readable } from 'node:stream';
import { type Ledger, ledgerFinal } from '@ptce/domain';
import type { EventStore } from '@ptce/event-store';
import { type EventEnvelope, ptceStreams, slugSchema, validTimeSchema } from '@ptce/events';
import {
  type App,
  type OpenApiTag,
  type PersonalData,
  ProblemError,
  problemResponse,
  requirePtceScope,
  requireRole,
  storeUnavailableResponse,
  zodPlugin,
} from '@ptce/platform';
import { changesBetween, type StageRules } from '@ptce/projections';
import {
  auditedEventLines,
  auditedEventSchema,
  auditedEvents,
  CHECKPOINT_KIND,
  type ChainCheckpoints,
  cutLedger,
  knownAtCut,
  type PtceLedgers,
  ptceEvents,
  ptceEventTextRuns,
  replayBody,
  type SignedCheckpoint,
  verifyPtceChains,
} from '@ptce/read-models';
import { z } from 'zod';

/** What the audit service takes from its host. */
export interface AuditOptions {
  readonly store: EventStore;
  readonly rules: StageRules;
  /** Milliseconds since the epoch: "now" for a replay without asOf. */
  readonly now: () => number;
  /** The PTCE's folded logs, shared with the projections service when both are mounted. */
  readonly ledgers: PtceLedgers;
  /** Auditors see natural persons: their sealed fields are opened for them. */
  readonly personalData: PersonalData;
  /** The signed checkpoints `verify` holds the chains against, and their daily round. */
  readonly checkpoints: ChainCheckpoints;
  /** Between two rounds of checkpoints of every PTCE whose chains moved; 0: no round. */
  readonly checkpointEveryMs: number;
}

export const auditTag: OpenApiTag = {
  name: 'audit',
  description:
    'For auditors: the events as stored, every answer replayed, differences between two dates, the hash chains verified and their signed checkpoints.',
};
const tags = [auditTag.name];
/**
 * From start-up to the first round of checkpoints: a process restarted more often than the period
 * still takes its round, and one started for a moment (a test, a command) takes none.
 */
const FIRST_CHECKPOINT_ROUND_MS = 60_000;
const AUDITORS = ['auditor', 'admin'] as const;
const MAX_PAGE = 1_000;
const DEFAULT_PAGE = 100;
const NDJSON = 'application/x-ndjson';
/** Events written to the socket at a time when streaming: a few hundred KB. */
const LINES_PER_WRITE = 200;

const ptceParams = z.strictObject({ ptceId: slugSchema });
const positionSchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,100}$/, { message: 'expected a position from an earlier answer' });

const auditResponses = <S extends z.ZodType>(success: S) => ({
  200: success,
  400: problemResponse('validation_failed: a bad path or query parameter, named in `errors`'),
  403: problemResponse("outside the caller's role (auditor, admin) or scope"),
  404: problemResponse('no PTCE of that id is registered'),
  503: storeUnavailableResponse,
});

const eventsQuery = z.strictObject({
  after: positionSchema
    .optional()
    .describe('events strictly after this position: the `next` of the page before'),
  until: validTimeSchema
    .optional()
    .describe('valid time: only facts that happened by then (a date: that whole Paris day)'),
  knownAt: validTimeSchema
    .optional()
    .describe('transaction time: the log as it stood then (the longest prefix recorded by then)'),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE)
    .default(DEFAULT_PAGE)
    .describe(`events per page, 1–${MAX_PAGE}; ignored when the history is streamed as NDJSON`),
});

const eventsPage = z.object({
  events: z.array(auditedEventSchema),
  next: z.string().nullable().describe('send it back as `after` for the next page; null on the last one'),
});

const replayQuery = z
  .strictObject({
    asOf: validTimeSchema.optional().describe('valid time; default now'),
    knownAt: validTimeSchema.optional().describe('transaction time; default now'),
    atPosition: positionSchema.optional().describe('the log up to this position, instead of knownAt'),
  })
  .superRefine((query, ctx) => {
    if (query.knownAt !== undefined && query.atPosition !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['atPosition'], message: 'give knownAt or atPosition, not both' });
    }
  });

const replayAnswer = z
  .object({
    ptceId: z.string(),
    asOf: z.string(),
    knownAt: z.string().nullable(),
    position: z.string(),
    rulesVersion: z.string(),
    eventsApplied: z.number().int().describe('events of the log prefix replayed'),
    lastPosition: z.string(),
    warnings: z.array(z.unknown()),
    state: z.unknown(),
    stage: z.unknown(),
    participation: z.unknown(),
    legalTransition: z.unknown(),
    eligibility: z.unknown(),
  })
  .describe('every read-side answer for one (asOf, knownAt or atPosition), natural persons named');

const chainHead = z.object({ stream: z.string(), revision: z.number().int(), hash: z.string() });

const verifyAnswer = z.object({
  ok: z.boolean().describe('every chain holds, and agrees with every signed checkpoint'),
  events: z.number().int().describe('events whose hash was recomputed'),
  heads: z.array(chainHead).describe("each stream's last event as stored"),
  brokenAt: z
    .object({
      eventId: z.string(),
      position: z.string(),
      expected: z.string(),
      actual: z.string(),
      reason: z.string(),
    })
    .optional()
    .describe('the first event, in log order, whose chain does not hold'),
  checkpoint: z
    .object({ takenAt: z.string(), keyId: z.string(), heads: z.array(chainHead) })
    .nullable()
    .describe('the latest signed checkpoint the chains were held against; null before the first'),
  checkpoints: z.number().int().describe('signed checkpoints the chains were held against'),
  checkpointMismatch: z
    .object({
      takenAt: z.string(),
      keyId: z.string(),
      reason: z
        .enum(['rewritten', 'missing', 'signature'])
        .describe(
          'rewritten: the event the checkpoint names holds another hash; missing: the stream ends before it; signature: the checkpoint does not verify',
        ),
      stream: z.string().optional(),
      revision: z.number().int().optional(),
      expected: z.string().optional().describe('the hash the checkpoint signed'),
      actual: z.string().optional().describe('the hash stored, or `missing`'),
      detail: z.string(),
    })
    .optional()
    .describe(
      'the first disagreement with a signed checkpoint: what the chains alone cannot show (last events deleted, a stream rewritten with its hashes recomputed)',
    ),
});

const signedCheckpoint = z.object({
  checkpoint: z.object({
    kind: z.literal(CHECKPOINT_KIND),
    ptceId: z.string(),
    takenAt: z.string().describe('when it was taken'),
    heads: z.array(chainHead).describe("each stream's last event then"),
  }),
  signature: z
    .object({ alg: z.literal('Ed25519'), keyId: z.string(), value: z.string() })
    .describe(
      'Ed25519 over the RFC 8785 canonical JSON of `checkpoint`, by a snapshot key of /.well-known/jwks.json',
    ),
});

const checkpointList = z.object({
  checkpoints: z.array(signedCheckpoint).describe('oldest first'),
});

const diffQuery = z
  .strictObject({
    from: validTimeSchema.describe(
      'valid time the changes are counted after (a date: after that whole Paris day)',
    ),
    to: validTimeSchema.describe(
      'valid time the changes are counted up to (a date: that whole Paris day included)',
    ),
    knownAt: validTimeSchema.optional().describe('transaction time; default now'),
    atPosition: positionSchema.optional().describe('the log up to this position, instead of knownAt'),
  })
  .superRefine((query, ctx) => {
    if (query.knownAt !== undefined && query.atPosition !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['atPosition'], message: 'give knownAt or atPosition, not both' });
    }
  });

const change = z.object({ at: z.string(), eventId: z.string() });
const diffAnswer = z.object({
  ptceId: z.string(),
  from: z.string(),
  to: z.string(),
  knownAt: z.string().nullable(),
  position: z.string(),
  members: z.object({
    joined: z.array(change.extend({ organisationId: z.string() })),
    left: z.array(change.extend({ organisationId: z.string() })),
  }),
  enrolments: z.object({
    enrolled: z.array(change.extend({ spaceId: z.string(), organisationId: z.string(), role: z.string() })),
    ended: z.array(change.extend({ spaceId: z.string(), organisationId: z.string(), by: z.string() })),
  }),
  decisions: z.object({
    recorded: z.array(change.extend({ decisionId: z.string(), spaceId: z.string(), outcome: z.string() })),
    annulled: z.array(change.extend({ decisionId: z.string(), spaceId: z.string(), outcome: z.string() })),
  }),
  stages: z
    .array(change.extend({ stage: z.string(), type: z.string() }))
    .describe('stages reached, each with the event that caused it'),
});

const ptceNotFound = (ptceId: string) =>
  new ProblemError(404, 'ptce_not_found', `No PTCE ${ptceId} is registered in the part of the log read.`);

/**
 * The audit service: a PTCE's history as stored, every answer of the read side replayed at once
 * for a valid and a transaction time, and its hash chains checked. For auditors and admins.
 */
export const auditService = zodPlugin<AuditOptions>(async (app: App, options) => {
  const authorize = (request: Parameters<typeof requireRole>[0], ptceId: string) => {
    requireRole(request, ...AUDITORS);
    requirePtceScope(request, ptceId);
  };
  const assertRegistered = async (ptceId: string) => {
    const [first] = await options.store.readStream(ptceStreams(ptceId)[0]!, { limit: 1 });
    if (first?.type !== 'PtceRegistered') throw ptceNotFound(ptceId);
  };

  /** The PTCE's folded log cut in transaction time as asked; 404 unless its registration is in it. */
  const cutAsked = async (
    ptceId: string,
    query: { knownAt?: string | undefined; atPosition?: string | undefined },
  ) => {
    const log = await options.ledgers.latest(ptceId);
    const ledger: Ledger =
      query.atPosition !== undefined
        ? cutLedger(log.ledger, { kind: 'atPosition', position: query.atPosition })
        : query.knownAt !== undefined
          ? cutLedger(log.ledger, knownAtCut(query.knownAt))
          : log.ledger;
    const last = ledger.last?.event;
    if (!last || ledgerFinal(ledger).registration === null) throw ptceNotFound(ptceId);
    const knownAt = query.atPosition !== undefined ? null : (query.knownAt ?? last.recordedAt);
    return { ledger, last, knownAt };
  };

  app.get(
    '/v1/audit/ptces/:ptceId/events',
    {
      schema: {
        tags,
        operationId: 'getAuditEvents',
        summary: "The PTCE's events in log order, as stored, by pages or streamed whole as NDJSON",
        description: `With \`Accept: ${NDJSON}\` the whole history (filters applied, no paging) is streamed one event per line, in constant memory.`,
        params: ptceParams,
        querystring: eventsQuery,
        response: auditResponses(eventsPage),
      },
    },
    async (request, reply) => {
      const { ptceId } = request.params;
      authorize(request, ptceId);
      await assertRegistered(ptceId);
      const { limit, ...filter } = request.query;
      if ((request.headers.accept ?? '').includes(NDJSON)) {
        const personalData = options.personalData;
        const runs = ptceEventTextRuns(options.store, ptceId, filter);
        // Pulled by the socket: a slow reader holds the reading, never a growing buffer.
        async function* lines() {
          for await (const run of runs) {
            for (let i = 0; i < run.length; i += LINES_PER_WRITE) {
              yield await auditedEventLines(run.slice(i, i + LINES_PER_WRITE), personalData);
            }
          }
        }
        // A stream of lines, not the page schema's object: the serializer is bypassed for it.
        return reply.type(`${NDJSON}; charset=utf-8`).send(Readable.from(lines()) as never);
      }
      const events = ptceEvents(options.store, ptceId, filter);
      const page: EventEnvelope[] = [];
      let more = false;
      for await (const event of events) {
        if (page.length === limit) {
          more = true;
          break;
        }
        page.push(event);
      }
      return {
        events: await auditedEvents(page, options.personalData),
        next: more ? (page.at(-1)?.position ?? null) : null,
      };
    },
  );

  app.get(
    '/v1/audit/ptces/:ptceId/replay',
    {
      schema: {
        tags,
        operationId: 'replayPtce',
        summary: 'Every read-side answer of the PTCE at asOf, as known at knownAt (or atPosition)',
        description:
          'State, stage, participation, legal transition and eligibility computed together on one cut of the log, natural persons named: what the API answered, or would have, at that time.',
        params: ptceParams,
        querystring: replayQuery,
        response: auditResponses(replayAnswer),
      },
    },
    async (request) => {
      const { ptceId } = request.params;
      authorize(request, ptceId);
      const asOf = request.query.asOf ?? new Date(options.now()).toISOString();
      const { ledger, knownAt } = await cutAsked(ptceId, request.query);
      const replay = await replayBody({
        ptceId,
        ledger,
        asOf,
        knownAt,
        rules: options.rules,
        personalData: options.personalData,
      });
      if (replay === null) throw ptceNotFound(ptceId);
      return replay;
    },
  );

  app.get(
    '/v1/audit/ptces/:ptceId/diff',
    {
      schema: {
        tags,
        operationId: 'getPtceDiff',
        summary: 'What changed in the PTCE between two valid times: members, enrolments, decisions, stages',
        description:
          'Members joined and left, enrolments, decisions and stage changes between from and to, on the history as known at knownAt (or atPosition).',
        params: ptceParams,
        querystring: diffQuery,
        response: auditResponses(diffAnswer),
      },
    },
    async (request) => {
      const { ptceId } = request.params;
      authorize(request, ptceId);
      const { from, to } = request.query;
      const { ledger, last, knownAt } = await cutAsked(ptceId, request.query);
      return {
        ptceId,
        from,
        to,
        knownAt,
        position: last.position,
        ...changesBetween(ledger, from, to, options.rules),
      };
    },
  );

  app.get(
    '/v1/audit/ptces/:ptceId/verify',
    {
      schema: {
        tags,
        operationId: 'verifyPtce',
        summary: "Each of the PTCE's hash chains recomputed from the events as stored",
        description:
          "Each stream's chain recomputed from the events as stored, its head, and whether every chain holds and agrees with every signed checkpoint of the PTCE.",
        params: ptceParams,
        response: auditResponses(verifyAnswer),
      },
    },
    async (request) => {
      const { ptceId } = request.params;
      authorize(request, ptceId);
      const evidence = await options.checkpoints.evidence(ptceId);
      // A PTCE the log no longer names but a checkpoint does is verified, not unknown: its
      // registration deleted behind the server's back is what verify must say.
      if (evidence.checkpoints.length === 0) await assertRegistered(ptceId);
      return verifyPtceChains(options.store, ptceId, evidence);
    },
  );

  app.get(
    '/v1/audit/ptces/:ptceId/checkpoints',
    {
      schema: {
        tags,
        operationId: 'listCheckpoints',
        summary: "The signed checkpoints of the PTCE's hash chains, oldest first",
        description:
          'Taken with every snapshot and at least daily while the chains move, each signed with a snapshot key. Keep them: a checkpoint held outside the server proves what the chains were, whatever is done to the server later.',
        params: ptceParams,
        response: auditResponses(checkpointList),
      },
    },
    async (request) => {
      const { ptceId } = request.params;
      authorize(request, ptceId);
      await assertRegistered(ptceId);
      const listed = await options.checkpoints.list(ptceId);
      // A row that is no checkpoint is no answer; verify names it.
      return { checkpoints: listed.filter((entry): entry is SignedCheckpoint => !('unreadable' in entry)) };
    },
  );

  if (options.checkpointEveryMs > 0) {
    const stop = options.checkpoints.schedule({
      everyMs: options.checkpointEveryMs,
      firstAfterMs: FIRST_CHECKPOINT_ROUND_MS,
      log: app.log,
    });
    app.addHook('onClose', stop);
  }
});
