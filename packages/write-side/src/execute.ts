import { createHash, randomUUID } from 'node:crypto';
import { type EventStore, RevisionConflictError } from '@ptce/event-store';
import {
  canonicalJson,
  deterministicEventId,
  type EventEnvelope,
  type Evidence,
  eventCatalog,
  isEventType,
  type NewEvent,
  newEventId,
} from '@ptce/events';
import type { IdempotencyRecord, IdempotencyStore } from './idempotency.ts';
import type { LedgerRepository, LoadedLedger } from './ledger-repository.ts';

export interface EventToAppend {
  readonly type: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly occurredAt: string;
  readonly evidence?: Evidence;
}

export interface WriteAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly etag: string;
}

export interface WriteCommand<S> {
  readonly ptceId: string;
  /** The stream this service owns and appends to. */
  readonly stream: string;
  /** Every stream the decision needs, the owned one included. */
  readonly readStreams: readonly string[];
  readonly recordedBy: string;
  readonly correlationId?: string;
  readonly idempotencyKey?: string;
  /** Method, route and body: a same key with another request is refused. */
  readonly request: unknown;
  /** The revision from an `If-Match` header. */
  readonly ifMatch?: number;
  readonly decide: (state: S, now: number) => readonly EventToAppend[];
  /** Builds the answer from what was stored — also used to answer a retry whose first answer was lost. */
  readonly respond: (
    appended: readonly EventEnvelope[],
    result: { position: string; revision: number },
  ) => {
    readonly status: number;
    readonly body: Record<string, unknown>;
  };
}

export type WriteFailure =
  | { readonly kind: 'idempotency_key_reused'; readonly detail: string }
  | { readonly kind: 'idempotency_key_in_flight'; readonly detail: string }
  | { readonly kind: 'precondition_failed'; readonly expected: number; readonly actual: number | null };

export class WriteRefused extends Error {
  constructor(readonly failure: WriteFailure) {
    super(failure.kind);
    this.name = 'WriteRefused';
  }
}

export interface WriteDeps<S> {
  readonly store: EventStore;
  readonly ledgers: LedgerRepository<S>;
  readonly idempotency: IdempotencyStore;
  readonly now?: () => number;
}

const etagOf = (revision: number) => `"${revision}"`;

/** What a same Idempotency-Key must be sent with again: the canonical method, route and body. */
export function requestFingerprint(request: unknown): string {
  return createHash('sha256').update(canonicalJson(request)).digest('hex');
}

/** How long a pending Idempotency-Key is taken for a request still running; after that, for a crash. */
export const PENDING_LEASE_MS = 30_000;

/**
 * Load, decide, append, answer — once, or twice when another writer appended to the same
 * stream in between and the command is still valid on the new state (DESIGN.md: retry once
 * on a revision conflict, else 409 through the decider's own refusal or the conflict).
 */
export async function executeWrite<S>(deps: WriteDeps<S>, command: WriteCommand<S>): Promise<WriteAnswer> {
  const now = deps.now ?? Date.now;
  if (command.idempotencyKey === undefined) return decideAndAppend(deps, command, now, undefined);

  const key = `${command.recordedBy}\u0000${command.idempotencyKey}`;
  const fingerprint = requestFingerprint(command.request);
  // Event ids derive from the request too: a key reused after it expired, with another body, must
  // not produce the ids of its first use (the store would refuse them as duplicates).
  const scope = `${key}\u0000${fingerprint}`;
  const existing = await deps.idempotency.get(key);
  if (existing && existing.fingerprint !== fingerprint) {
    throw new WriteRefused({
      kind: 'idempotency_key_reused',
      detail: `Idempotency-Key "${command.idempotencyKey}" was first used with another request`,
    });
  }
  if (existing?.state === 'done' && existing.response) {
    const { status, body, etag } = existing.response;
    return { status, body: body as Record<string, unknown>, etag: etag ?? '' };
  }
  const pending: IdempotencyRecord = {
    fingerprint,
    state: 'pending',
    stream: command.stream,
    createdAt: now(),
    owner: randomUUID(),
  };
  // A pending record this young belongs to a request still running, not to a crash: running the
  // command beside it would append under the same event ids and break the first request. An
  // older one is taken over atomically: of several retries racing for it, one runs the command.
  const inFlight = existing?.state === 'pending' && now() - existing.createdAt < PENDING_LEASE_MS;
  const held =
    !inFlight &&
    (existing
      ? await deps.idempotency.takeOver(key, existing, pending)
      : await deps.idempotency.reserve(key, pending));
  if (!held) {
    throw new WriteRefused({
      kind: 'idempotency_key_in_flight',
      detail: `a request with Idempotency-Key "${command.idempotencyKey}" is being processed`,
    });
  }
  let answer: WriteAnswer;
  try {
    // A pending record left by a crash: the first attempt may have appended before dying.
    const recovered = existing ? await recoverAppended(deps.store, command, scope) : undefined;
    answer = recovered ?? (await decideAndAppend(deps, command, now, scope));
  } catch (error) {
    await deps.idempotency.release(key, pending.owner).catch(() => undefined);
    throw error;
  }
  // Once the events are stored the key must stay pending if the answer cannot be saved:
  // released, a retry would run the command again on the new state and be refused.
  await deps.idempotency.complete(key, { ...pending, state: 'done', response: answer });
  return answer;
}

async function decideAndAppend<S>(
  deps: WriteDeps<S>,
  command: WriteCommand<S>,
  now: () => number,
  idempotencyScope: string | undefined,
): Promise<WriteAnswer> {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await deps.ledgers.append(command.readStreams, command.stream, (loaded) =>
        eventsDecided(command, loaded, now, idempotencyScope),
      );
      return answerFrom(command, result.events, result.position, result.nextRevision);
    } catch (error) {
      if (!(error instanceof RevisionConflictError)) throw error;
      // Another process appended between our load and our append: under If-Match the client's
      // revision is stale, which API.md answers with 412, never a retry on a state it did not see.
      if (command.ifMatch !== undefined) {
        throw new WriteRefused({
          kind: 'precondition_failed',
          expected: command.ifMatch,
          actual: error.actual,
        });
      }
      if (attempt === 0) continue;
      throw error;
    }
  }
}

function eventsDecided<S>(
  command: WriteCommand<S>,
  loaded: LoadedLedger<S>,
  now: () => number,
  idempotencyScope: string | undefined,
): NewEvent[] {
  const current = loaded.revisions[command.stream] ?? null;
  if (command.ifMatch !== undefined && command.ifMatch !== current) {
    throw new WriteRefused({ kind: 'precondition_failed', expected: command.ifMatch, actual: current });
  }
  return command.decide(loaded.state, now()).map((event, index) => ({
    eventId:
      idempotencyScope === undefined ? newEventId() : deterministicEventId(idempotencyScope, String(index)),
    type: event.type,
    schemaVersion: isEventType(event.type) ? eventCatalog[event.type].schemaVersion : 1,
    ptceId: command.ptceId,
    occurredAt: event.occurredAt,
    recordedBy: command.recordedBy,
    data: event.data,
    ...(event.evidence ? { evidence: event.evidence } : {}),
    ...(command.correlationId ? { correlationId: command.correlationId } : {}),
    ...(command.idempotencyKey ? { idempotencyKey: command.idempotencyKey } : {}),
  }));
}

function answerFrom<S>(
  command: WriteCommand<S>,
  events: readonly EventEnvelope[],
  position: string,
  revision: number,
): WriteAnswer {
  const { status, body } = command.respond(events, { position, revision });
  return {
    status,
    body: { ...body, eventIds: events.map((e) => e.eventId), position, revision },
    etag: etagOf(revision),
  };
}

/**
 * Scans the newest events of the stream for those the lost attempt appended: the ids it would
 * have given them, not the key alone, which an earlier use of the same key may share.
 */
async function recoverAppended<S>(
  store: EventStore,
  command: WriteCommand<S>,
  scope: string,
): Promise<WriteAnswer | undefined> {
  const recent = await store.readStream(command.stream, { direction: 'backwards', limit: 1_000 });
  const candidates = recent.filter(
    (e) => e.idempotencyKey === command.idempotencyKey && e.recordedBy === command.recordedBy,
  );
  const expected = new Set(candidates.map((_, index) => deterministicEventId(scope, String(index))));
  const mine = candidates.filter((e) => expected.has(e.eventId)).sort((a, b) => a.revision - b.revision);
  const last = mine.at(-1);
  if (!last) return undefined;
  return answerFrom(command, mine, last.position, last.revision);
}
