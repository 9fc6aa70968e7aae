import { createHash, createHmac, randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { EventToAppend } from '@ptce/domain';
import {
  type EventStore,
  type IdempotencyRecord,
  type IdempotencyStore,
  leaseStamp,
  RevisionConflictError,
} from '@ptce/event-store';
import {
  canonicalJson,
  deterministicEventId,
  type EventEnvelope,
  eventCatalog,
  isEventType,
  type NewEvent,
  newEventId,
} from '@ptce/events';
import { type PersonalData, ProblemError } from '@ptce/platform';
import type { LoadedLedger } from './fold-cache.ts';
import type { LedgerRepository } from './ledger-repository.ts';

export interface WriteAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly etag: string;
  /** The answer an earlier request under the same Idempotency-Key got: nothing was recorded now. */
  readonly replayed?: boolean;
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
  | {
      readonly kind: 'idempotency_key_in_flight';
      readonly detail: string;
      /** When the key may be free: the holder's lease runs out, or it is about to answer. */
      readonly retryAfterSeconds: number;
    }
  | { readonly kind: 'precondition_failed'; readonly expected: number; readonly actual: number | null };

/**
 * A write refused before or around its decision (the Idempotency-Key, If-Match): a problem the
 * platform's error handler renders as it is, with its status, code and headers.
 */
export class WriteRefused extends ProblemError {
  constructor(readonly failure: WriteFailure) {
    super(...problemOf(failure));
    if (failure.kind === 'idempotency_key_in_flight') {
      this.withHeaders({ 'retry-after': String(failure.retryAfterSeconds) });
    }
  }
}

function problemOf(failure: WriteFailure): [status: number, code: string, detail: string] {
  switch (failure.kind) {
    case 'idempotency_key_reused':
      return [422, failure.kind, failure.detail];
    case 'idempotency_key_in_flight':
      return [409, failure.kind, failure.detail];
    case 'precondition_failed':
      return [
        412,
        failure.kind,
        `If-Match expected revision ${failure.expected} but the stream is at ${failure.actual ?? 'no revision (empty)'}.`,
      ];
    default: {
      const unreachable: never = failure;
      return unreachable;
    }
  }
}

export interface WriteDeps<S> {
  readonly store: EventStore;
  readonly ledgers: LedgerRepository<S>;
  readonly idempotency: IdempotencyStore;
  /** Seals natural persons' personal fields; a write that needs it and lacks it fails. */
  readonly personalData?: PersonalData;
  readonly now?: () => number;
}

const etagOf = (revision: number) => `"${revision}"`;

/**
 * What a same Idempotency-Key must be sent with again: the canonical method, route and body, as
 * an HMAC under `key` when given (the deployment's, see `fingerprintKeyOf`), so that the keys'
 * table holds nothing a list of names could be checked against.
 */
export function requestFingerprint(request: unknown, key?: Buffer): string {
  const text = canonicalJson(request);
  return (key ? createHmac('sha256', key) : createHash('sha256')).update(text).digest('hex');
}

/**
 * A pending Idempotency-Key is a lease its request renews while it runs. A record not renewed for
 * this long belongs to an attempt that died (a crash, a kill): a retry may take it over.
 */
export const PENDING_LEASE_MS = 10_000;
/** How often a running request renews its lease: several renewals fit in one lease. */
export const PENDING_RENEW_MS = 2_000;

/**
 * Where a key is stored: one caller's key on one PTCE. Scoped by subject and PTCE, so two clients
 * picking the same key never block each other; hashed, so neither a NUL (which PostgreSQL text
 * cannot hold) nor a subject's name reaches the table.
 */
export function idempotencyRecordKey(recordedBy: string, ptceId: string, idempotencyKey: string): string {
  return createHash('sha256')
    .update(canonicalJson([recordedBy, ptceId, idempotencyKey]))
    .digest('hex');
}

/**
 * What the events of a keyed request derive their ids from: the key and the request together,
 * so a key reused after it expired, with another body, never produces the ids of its first use
 * (the store would refuse them as duplicates).
 */
export function idempotencyEventScope(recordKey: string, fingerprint: string): string {
  return `${recordKey}:${fingerprint}`;
}

/**
 * Owners name their process, so that a retry on the same host can tell at once that the process
 * holding a key is gone (kill -9, a crash before the restart) instead of waiting out the lease.
 */
function newOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID()}`;
}

function ownerProcessIsGone(owner: string): boolean {
  const [host, pidText] = owner.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isSafeInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: a process of another user has that pid now; only "no such process" proves it gone.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/**
 * Load, decide, append, answer — once, or twice when another writer appended to the same
 * stream in between and the command is still valid on the new state (retried once on a revision
 * conflict; a second conflict, or the decider's own refusal on the new state, is the answer).
 */
export async function executeWrite<S>(deps: WriteDeps<S>, command: WriteCommand<S>): Promise<WriteAnswer> {
  const now = deps.now ?? Date.now;
  if (command.idempotencyKey === undefined) return decideAndAppend(deps, command, now, undefined);

  const key = idempotencyRecordKey(command.recordedBy, command.ptceId, command.idempotencyKey);
  const fingerprint = requestFingerprint(command.request, deps.personalData?.fingerprintKey);
  const scope = idempotencyEventScope(key, fingerprint);
  const existing = await deps.idempotency.get(key);
  if (existing && existing.fingerprint !== fingerprint) {
    throw new WriteRefused({
      kind: 'idempotency_key_reused',
      detail: `Idempotency-Key "${command.idempotencyKey}" was first used with another request`,
    });
  }
  if (existing?.state === 'done' && existing.response) {
    const { status, body, etag } = existing.response;
    return { status, body: body as Record<string, unknown>, etag: etag ?? '', replayed: true };
  }
  const pending: IdempotencyRecord = {
    fingerprint,
    state: 'pending',
    stream: command.stream,
    createdAt: now(),
    owner: newOwner(),
  };
  // A pending record renewed within the lease belongs to a request still running, not to a crash:
  // running the command beside it would append under the same event ids and break the first
  // request. An abandoned one is taken over atomically: of several retries racing for it, one runs
  // the command.
  const sinceRenewal = existing?.state === 'pending' ? now() - leaseStamp(existing) : 0;
  const inFlight =
    existing?.state === 'pending' && sinceRenewal < PENDING_LEASE_MS && !ownerProcessIsGone(existing.owner);
  const held =
    !inFlight &&
    (existing
      ? await deps.idempotency.takeOver(key, existing, pending)
      : await deps.idempotency.reserve(key, pending));
  if (!held) {
    // A holder that renewed recently is alive and usually done within a second; one that stopped
    // renewing is waited out until its lease ends.
    const retryAfterMs = sinceRenewal < PENDING_RENEW_MS * 1.5 ? 1_000 : PENDING_LEASE_MS - sinceRenewal;
    throw new WriteRefused({
      kind: 'idempotency_key_in_flight',
      detail: `a request with Idempotency-Key "${command.idempotencyKey}" is being processed`,
      retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
    });
  }
  const renewal = setInterval(() => {
    deps.idempotency.renew(key, pending.owner, now()).catch(() => undefined);
  }, PENDING_RENEW_MS);
  renewal.unref();
  let answer: WriteAnswer;
  try {
    // A pending record left by a crash: the first attempt may have appended before dying.
    const recovered = existing ? await recoverAppended(deps.store, command, scope) : undefined;
    answer = recovered ?? (await decideAndAppend(deps, command, now, scope));
  } catch (error) {
    clearInterval(renewal);
    await deps.idempotency.release(key, pending.owner).catch(() => undefined);
    throw error;
  }
  clearInterval(renewal);
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
      const result = await deps.ledgers.append(
        command.readStreams,
        command.stream,
        (loaded) => eventsDecided(command, loaded, now, idempotencyScope),
        now,
      );
      return answerFrom(command, result.events, result.position, result.nextRevision);
    } catch (error) {
      if (!(error instanceof RevisionConflictError)) throw error;
      // Another process appended between our load and our append: under If-Match the client's
      // revision is stale, which the contract answers with 412, never a retry on a state it did not see.
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

export type Settled<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: unknown };

/** A write's answer, and whether it is the answer an earlier request under its key got. */
export interface OrderedAnswer extends WriteAnswer {
  readonly replayed: boolean;
}

interface Keyed<S> {
  readonly command: WriteCommand<S>;
  readonly key: string;
  readonly fingerprint: string;
  readonly scope: string;
}

function keyedOf<S>(deps: WriteDeps<S>, command: WriteCommand<S>): Keyed<S> {
  if (command.idempotencyKey === undefined) throw new TypeError('a write run in order carries its key');
  const key = idempotencyRecordKey(command.recordedBy, command.ptceId, command.idempotencyKey);
  const fingerprint = requestFingerprint(command.request, deps.personalData?.fingerprintKey);
  return { command, key, fingerprint, scope: idempotencyEventScope(key, fingerprint) };
}

/** What an earlier request under the same key decides for this one, if anything. */
function earlierAnswer<S>(
  keyed: Keyed<S>,
  existing: IdempotencyRecord | null,
): Settled<OrderedAnswer> | 'pending' | undefined {
  if (existing === null) return undefined;
  if (existing.fingerprint !== keyed.fingerprint) return { ok: false, error: keyReused(keyed.command) };
  if (existing.state === 'done' && existing.response) {
    const { status, body, etag } = existing.response;
    return {
      ok: true,
      value: { status, body: body as Record<string, unknown>, etag: etag ?? '', replayed: true },
    };
  }
  return 'pending';
}

/**
 * Keyed writes of one PTCE, in order, each decided on the state the writes before it left, as if
 * sent one after the other — but queued together, so that the ledger's batcher decides them in
 * one turn and stores them in a few appends, and their keys are reserved and saved in one
 * transaction each. A key already answered answers again (`replayed`); a key another attempt left
 * pending runs alone, in its turn, through `executeWrite` (which waits out or takes over its lease
 * and finds what that attempt stored). Callers keep a call short (the import runs at most a
 * thousand writes per call): a key reserved here is not renewed, and a lease outlived would let a
 * retry of the same key run beside this one.
 */
export async function executeWritesInOrder<S>(
  deps: WriteDeps<S>,
  commands: readonly WriteCommand<S>[],
): Promise<Settled<OrderedAnswer>[]> {
  const now = deps.now ?? Date.now;
  const outcomes: Settled<OrderedAnswer>[] = new Array(commands.length);
  const { keyed, sameAs } = keyedInTurn(deps, commands, outcomes);
  const existing = await deps.idempotency.getMany(keyed.map((k) => k?.key ?? ''));
  let run: number[] = [];
  const runQueued = async () => {
    const queued = run;
    run = [];
    await runInOrder(deps, keyed as Keyed<S>[], queued, outcomes, now);
  };
  for (let i = 0; i < keyed.length; i++) {
    const k = keyed[i];
    if (k === undefined || sameAs.has(i)) continue;
    const earlier = earlierAnswer(k, existing[i] ?? null);
    if (earlier === undefined) {
      run.push(i);
    } else if (earlier === 'pending') {
      await runQueued();
      outcomes[i] = await settled(
        executeWrite(deps, commands[i]!).then((a) => ({ ...a, replayed: a.replayed === true })),
      );
    } else {
      outcomes[i] = earlier;
    }
  }
  await runQueued();
  answerAsTheFirst(outcomes, sameAs);
  return outcomes;
}

/**
 * Each command's key, in order. A key a command before it in the same call already carries is
 * that command's: with the same request it gets that command's answer (a line sent twice in one
 * file), with another it is refused as any reused key is — never reserved twice, which a store
 * inserting the first and ignoring the second would report as both reserved. A command whose key
 * cannot be made (a text the canonical form refuses) is refused alone.
 */
function keyedInTurn<S, T>(
  deps: WriteDeps<S>,
  commands: readonly WriteCommand<S>[],
  outcomes: Settled<T>[],
): { keyed: (Keyed<S> | undefined)[]; sameAs: Map<number, number> } {
  const firstWith = new Map<string, number>();
  const sameAs = new Map<number, number>();
  const keyed: (Keyed<S> | undefined)[] = [];
  commands.forEach((command, i) => {
    let k: Keyed<S>;
    try {
      k = keyedOf(deps, command);
    } catch (error) {
      outcomes[i] = { ok: false, error };
      keyed.push(undefined);
      return;
    }
    keyed.push(k);
    const first = firstWith.get(k.key);
    if (first === undefined) firstWith.set(k.key, i);
    else if (keyed[first]?.fingerprint === k.fingerprint) sameAs.set(i, first);
    else outcomes[i] = { ok: false, error: keyReused(command) };
  });
  // A refused repeat is no command to run: it is left out as one whose key could not be made.
  outcomes.forEach((outcome, i) => {
    if (outcome && !sameAs.has(i)) keyed[i] = undefined;
  });
  return { keyed, sameAs };
}

const keyReused = (command: { readonly idempotencyKey?: string | undefined }) =>
  new WriteRefused({
    kind: 'idempotency_key_reused',
    detail: `Idempotency-Key "${command.idempotencyKey}" was first used with another request`,
  });

/** A command that repeats an earlier one of the call answers what that one got. */
function answerAsTheFirst<T extends { replayed: boolean }>(
  outcomes: Settled<T>[],
  sameAs: ReadonlyMap<number, number>,
): void {
  for (const [i, first] of sameAs) {
    const outcome = outcomes[first]!;
    outcomes[i] = outcome.ok ? { ok: true, value: { ...outcome.value, replayed: true } } : outcome;
  }
}

async function runInOrder<S>(
  deps: WriteDeps<S>,
  keyed: readonly Keyed<S>[],
  indices: readonly number[],
  outcomes: Settled<OrderedAnswer>[],
  now: () => number,
): Promise<void> {
  if (indices.length === 0) return;
  const owner = newOwner();
  const records = indices.map(
    (i): IdempotencyRecord => ({
      fingerprint: keyed[i]!.fingerprint,
      state: 'pending',
      stream: keyed[i]!.command.stream,
      createdAt: now(),
      owner,
    }),
  );
  const reserved = await deps.idempotency.reserveMany(
    indices.map((i, n) => ({ key: keyed[i]!.key, record: records[n]! })),
  );
  // Held as executeWrite holds one key: renewed while the run lasts, so a retry of one of them
  // elsewhere finds it alive rather than abandoned.
  const held = indices.filter((_, n) => reserved[n]).map((i) => keyed[i]!.key);
  const renewal = setInterval(() => {
    for (const key of held) deps.idempotency.renew(key, owner, now()).catch(() => undefined);
  }, PENDING_RENEW_MS);
  renewal.unref();
  // Queued without a turn of the event loop in between: the batcher decides them in this order.
  const appends = indices.map((i, n) => {
    const { command, scope } = keyed[i]!;
    if (!reserved[n]) {
      return Promise.reject(
        new WriteRefused({
          kind: 'idempotency_key_in_flight',
          detail: `a request with Idempotency-Key "${command.idempotencyKey}" is being processed`,
          retryAfterSeconds: 1,
        }),
      );
    }
    return deps.ledgers
      .append(
        command.readStreams,
        command.stream,
        (loaded) => eventsDecided(command, loaded, now, scope),
        now,
      )
      .then((result) => answerFrom(command, result.events, result.position, result.nextRevision));
  });
  const answers = await Promise.all(appends.map(settled)).finally(() => clearInterval(renewal));
  const completed: { key: string; record: IdempotencyRecord }[] = [];
  const released: Promise<void>[] = [];
  indices.forEach((i, n) => {
    const answer = answers[n]!;
    outcomes[i] = answer.ok ? { ok: true, value: { ...answer.value, replayed: false } } : answer;
    if (!reserved[n]) return;
    if (answer.ok)
      completed.push({
        key: keyed[i]!.key,
        record: { ...records[n]!, state: 'done', response: answer.value },
      });
    else released.push(deps.idempotency.release(keyed[i]!.key, owner).catch(() => undefined));
  });
  await Promise.all(released);
  // As in executeWrite: stored events whose answer cannot be saved leave their key pending, and a
  // retry finds them.
  await deps.idempotency.completeMany(completed);
}

const settled = <T>(promise: Promise<T>): Promise<Settled<T>> =>
  promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );

/** What a dry run found for one write: the events it would record, or the answer it already has. */
export type CheckedWrite =
  | { readonly replayed: false; readonly events: readonly NewEvent[] }
  | {
      readonly replayed: true;
      /** Absent for a repeat of an earlier command of the same call, which has no answer yet. */
      readonly answer?: WriteAnswer;
    };

/**
 * `executeWritesInOrder` without storing anything: each write decided on the state the writes
 * before it would have left. Every command reads the same streams (one PTCE).
 */
export async function checkWritesInOrder<S>(
  deps: WriteDeps<S>,
  commands: readonly WriteCommand<S>[],
): Promise<Settled<CheckedWrite>[]> {
  const now = deps.now ?? Date.now;
  const first = commands[0];
  if (first === undefined) return [];
  const outcomes: Settled<CheckedWrite>[] = new Array(commands.length);
  const { keyed, sameAs } = keyedInTurn(deps, commands, outcomes);
  const existing = await deps.idempotency.getMany(keyed.map((k) => k?.key ?? ''));
  const toDecide: number[] = [];
  keyed.forEach((k, i) => {
    if (k === undefined || sameAs.has(i)) return;
    const earlier = earlierAnswer(k, existing[i] ?? null);
    if (earlier === undefined || earlier === 'pending') toDecide.push(i);
    else outcomes[i] = earlier.ok ? { ok: true, value: { replayed: true, answer: earlier.value } } : earlier;
  });
  const checked = await deps.ledgers.check(
    first.readStreams,
    toDecide.map((i) => {
      const { command, scope } = keyed[i] as Keyed<S>;
      return { stream: command.stream, decide: (loaded) => eventsDecided(command, loaded, now, scope) };
    }),
    now,
  );
  toDecide.forEach((i, n) => {
    const outcome = checked[n]!;
    outcomes[i] = outcome.ok ? { ok: true, value: { replayed: false, events: outcome.events } } : outcome;
  });
  for (const [i, first] of sameAs) {
    const outcome = outcomes[first]!;
    outcomes[i] = !outcome.ok
      ? outcome
      : outcome.value.replayed
        ? outcome
        : { ok: true, value: { replayed: true } };
  }
  return outcomes;
}
