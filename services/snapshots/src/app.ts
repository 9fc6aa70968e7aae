import { sign } from 'node:crypto';
import type { Ledger } from '@ptce/domain';
import type { EventStore } from '@ptce/event-store';
import { canonicalJson, parisDate } from '@ptce/events';
import {
  type App,
  type OpenApiTag,
  ProblemError,
  principalOf,
  problemResponse,
  requirePtceScope,
  requireRole,
  type SnapshotKeys,
  type SnapshotSigningKey,
  zodPlugin,
} from '@ptce/platform';
import { type StageRules, stageTimeline } from '@ptce/projections';
import {
  type ChainCheckpoints,
  cutLedger,
  headsAt,
  knownAtCut,
  type LogCut,
  type PtceLedgers,
  registeredPtceIds,
} from '@ptce/read-models';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { snapshotsCsv } from './csv.ts';
import { REPORT_CSP, reportPage as renderReport } from './report.ts';
import {
  csvRows,
  errors,
  jwksSchema,
  listQuery,
  ptceParams,
  reportPage,
  reportQuery,
  type SnapshotQuery,
  signedSnapshot,
  snapshotList,
  snapshotQuery,
  snapshotSchema,
} from './schemas.ts';
import { snapshotOf } from './snapshot.ts';
import { type MadeSnapshot, SignedSnapshotCache } from './snapshot-cache.ts';

/** What the snapshots service takes from its host. */
export interface SnapshotsOptions {
  readonly store: EventStore;
  /** The deployment's stage thresholds (STAGE_RULES), validated at start-up. */
  readonly rules: StageRules;
  /** Milliseconds since the epoch: today's Paris day for asOf, and generatedAt. */
  readonly now: () => number;
  /** The PTCE's folded logs, kept between requests. */
  readonly ledgers: PtceLedgers;
  readonly keys: SnapshotKeys;
  /** Every snapshot takes a signed checkpoint of the heads it carries. */
  readonly checkpoints: ChainCheckpoints;
}

export const snapshotsTag: OpenApiTag = {
  name: 'snapshots',
  description:
    'Signed snapshots for funders (JSON, CSV or a page for people) and the public keys that verify them.',
};
const tags = [snapshotsTag.name];
/** Signed snapshots kept made: a few for each of a deployment's PTCE (about 5 KB each). */
const SNAPSHOTS_KEPT = 2_000;
const READERS = ['funder', 'secretary', 'auditor', 'admin'] as const;

/** Text, not the JSON the route's schema describes: the serializer is for the JSON answer only. */
const sendCsv = (reply: FastifyReply, text: string) =>
  reply
    .type('text/csv; charset=utf-8')
    .header('content-disposition', 'attachment; filename="ptce-snapshots.csv"')
    .send(text);

const ptceNotFound = (ptceId: string) =>
  new ProblemError(404, 'ptce_not_found', `No PTCE ${ptceId} is registered in the part of the log read.`);

/**
 * Signed snapshots of a PTCE's indicators, for funders: the same computation as the read
 * service, on the part of the log asked for, with natural persons counted but never named, signed
 * with Ed25519 over the snapshot's RFC 8785 canonical JSON. A snapshot is a function of asOf and
 * the log prefix alone, and Ed25519 signs deterministically: the same asOf and atPosition give the
 * same bytes, signature included, for as long as the key is current.
 */
export const snapshotsService = zodPlugin<SnapshotsOptions>(async (app: App, options) => {
  const { store, rules, ledgers, keys } = options;

  /**
   * Signed snapshots already made, by what they are a function of: the same bytes every time, so
   * a funder's repeated read costs a look-up, not a replay and a signature. Bounded; its owner is
   * this plugin instance.
   */
  const made = new SignedSnapshotCache(SNAPSHOTS_KEPT);

  /**
   * The signed snapshot of one PTCE, with its JSON, and the ledger it was computed on, cut to the
   * part of the log asked for; null when it is not registered in that part.
   */
  const signed = async (
    ptceId: string,
    query: SnapshotQuery,
    key: SnapshotSigningKey,
  ): Promise<{ readonly answer: MadeSnapshot; readonly ledger: Ledger } | null> => {
    const asOf = query.asOf ?? parisDate(options.now());
    const log = await ledgers.latest(ptceId);
    const cut: LogCut | null =
      query.atPosition !== undefined
        ? { kind: 'atPosition', position: query.atPosition }
        : query.knownAt !== undefined
          ? knownAtCut(query.knownAt)
          : null;
    const ledger = cut ? cutLedger(log.ledger, cut) : log.ledger;
    const position = ledger.last?.event.position;
    if (position === undefined) return null;
    // Nothing but these makes a snapshot: the events up to position never change (verify says
    // so when they do), and the rules are the process's.
    const cacheKey = [ptceId, position, asOf, key.keyId].join('\n');
    const known = made.get(cacheKey);
    if (known) return { answer: known, ledger };
    const heads = await headsAt(store, ptceId, position);
    // The chains as they stand are checkpointed with the snapshot; a snapshot of an earlier cut
    // attests nothing new, and would let any reader add checkpoints without end. Nor does a
    // checkpoint that could not be written fail the snapshot: the daily round takes it again.
    if (cut === null) {
      await options.checkpoints.attest(ptceId, heads).catch((err: unknown) => {
        app.log.warn({ err, ptceId }, 'the checkpoint taken with a snapshot could not be written');
      });
    }
    const computed = snapshotOf(ptceId, ledger, asOf, rules, position, heads);
    if (computed === null) return null;
    // What is signed is what the schema lets out, checked once here rather than at every send:
    // a field the schema does not know can never make the signed bytes differ from the answer.
    const snapshot = snapshotSchema.parse(computed);
    const value = sign(null, Buffer.from(canonicalJson(snapshot), 'utf8'), key.privateKey).toString(
      'base64url',
    );
    const body = { snapshot, signature: { alg: 'Ed25519' as const, keyId: key.keyId, value } };
    // The JSON of the answer but for its closing brace, where generatedAt goes.
    const answer: MadeSnapshot = { ...body, json: JSON.stringify(body).slice(0, -1) };
    made.set(cacheKey, answer);
    return { answer, ledger };
  };
  /** The answer of one snapshot, `generatedAt` being now: JSON text, sent as it is. */
  const jsonOf = (answer: MadeSnapshot) =>
    `${answer.json},"generatedAt":${JSON.stringify(new Date(options.now()).toISOString())}}`;

  /** The signed snapshot of a PTCE the caller may read, or the problem that refuses it. */
  const readableSnapshot = async (request: FastifyRequest, ptceId: string, query: SnapshotQuery) => {
    requireRole(request, ...READERS);
    requirePtceScope(request, ptceId);
    const found = await signed(ptceId, query, keys.current());
    if (found === null) throw ptceNotFound(ptceId);
    return found;
  };

  app.get(
    '/v1/snapshots/:ptceId',
    {
      schema: {
        tags,
        operationId: 'getSnapshot',
        summary: "A PTCE's signed snapshot at asOf, as known at knownAt (or atPosition)",
        description:
          'Stage, participation, legal transition and eligibility, with the stage thresholds in force and the heads of the hash chains, signed with Ed25519 over the RFC 8785 canonical JSON of `snapshot` (public keys at /.well-known/jwks.json). Natural persons are counted, never named.',
        params: ptceParams,
        querystring: snapshotQuery,
        response: {
          200: signedSnapshot,
          ...errors,
          404: problemResponse('no PTCE of that id registered in the log prefix read'),
        },
      },
    },
    async (request, reply) => {
      const { answer } = await readableSnapshot(request, request.params.ptceId, request.query);
      // JSON text of an answer the schema checked when it was made: sent as it is, not serialized.
      return reply.type('application/json; charset=utf-8').send(jsonOf(answer) as never);
    },
  );

  app.get(
    '/v1/snapshots/:ptceId/report',
    {
      config: { document: true },
      schema: {
        tags,
        operationId: 'getSnapshotReport',
        summary: "A PTCE's signed snapshot as a page for people, in French or English",
        description:
          'One self-contained HTML page drawn from the signed snapshot the same query gives at /v1/snapshots/{ptceId} and from the stage timeline of the same ledger: the timeline as a chart (fall-backs shown), participation by category, the legal transition, eligibility, the key id and signature and how to verify them. It loads nothing and runs no script; natural persons are counted, never named.',
        params: ptceParams,
        querystring: reportQuery,
        response: {
          200: { description: 'the report page', content: { 'text/html': { schema: reportPage } } },
          ...errors,
          404: problemResponse('no PTCE of that id registered in the log prefix read'),
        },
      },
    },
    async (request, reply) => {
      const { lang, ...query } = request.query;
      const { answer, ledger } = await readableSnapshot(request, request.params.ptceId, query);
      const page = renderReport({
        signed: {
          snapshot: answer.snapshot,
          signature: answer.signature,
          generatedAt: new Date(options.now()).toISOString(),
        },
        timeline: stageTimeline(ledger, rules),
        lang,
        origin: `${request.protocol}://${request.host}`,
      });
      // X-Frame-Options as its CSP says (frame-ancestors 'none'), for browsers that read only the former.
      return reply
        .type('text/html; charset=utf-8')
        .header('content-security-policy', REPORT_CSP)
        .header('x-frame-options', 'DENY')
        .header('cache-control', 'private, no-store')
        .send(page);
    },
  );

  app.get(
    '/v1/snapshots',
    {
      schema: {
        tags,
        operationId: 'listSnapshots',
        summary: "The signed snapshot of every PTCE in the caller's scope",
        description:
          'JSON by default; with format=csv, RFC 4180 text/csv (CRLF line ends, a header row) of headline indicators, one row per PTCE, each with the key id and signature of its JSON snapshot. A PTCE not registered in the part of the log read is left out.',
        querystring: listQuery,
        response: {
          200: {
            description: 'one signed snapshot per PTCE in scope, as JSON or (format=csv) as CSV',
            content: { 'application/json': { schema: snapshotList }, 'text/csv': { schema: csvRows } },
          },
          ...errors,
        },
      },
    },
    async (request, reply) => {
      requireRole(request, ...READERS);
      const principal = principalOf(request);
      const everyPtce = principal.role === 'admin' || principal.ptces.includes('*');
      const ids = everyPtce ? await registeredPtceIds(store) : [...new Set(principal.ptces)].sort();
      const { format, ...query } = request.query;
      const snapshots: MadeSnapshot[] = [];
      // One key for the whole list, even if a rotation lands while it is computed.
      const key = keys.current();
      for (const ptceId of ids) {
        const found = await signed(ptceId, query, key);
        if (found !== null) snapshots.push(found.answer);
      }
      if (format === 'csv') {
        return sendCsv(reply, snapshotsCsv(snapshots));
      }
      return reply
        .type('application/json; charset=utf-8')
        .send(`{"snapshots":[${snapshots.map(jsonOf).join(',')}]}` as never);
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      config: { public: true },
      schema: {
        tags,
        operationId: 'getJwks',
        summary: 'The public keys that sign snapshots, current and retired',
        description:
          'A JSON Web Key Set of the Ed25519 keys that sign snapshots and checkpoints, by key id: the current one and those retired, so an old snapshot still verifies. Public, cached for a minute.',
        security: [],
        response: { 200: jwksSchema },
      },
    },
    async (_request, reply) => {
      // Short: a verifier holding the set from before a rotation would not know the new key for long.
      reply.header('cache-control', 'public, max-age=60');
      return {
        keys: keys.publicKeys().map(({ keyId, publicKey, status }) => {
          const jwk = publicKey.export({ format: 'jwk' });
          return {
            kty: 'OKP' as const,
            crv: 'Ed25519' as const,
            x: String(jwk.x),
            kid: keyId,
            use: 'sig' as const,
            alg: 'EdDSA' as const,
            status,
          };
        }),
      };
    },
  );
});
