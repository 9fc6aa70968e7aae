import { canonicalJson, computeEventHash, type EventEnvelope, type NewEvent } from '@ptce/events';
import { DuplicateEventIdError, RevisionConflictError } from './errors.ts';
import type {
  AppendOptions,
  AppendResult,
  ExpectedRevision,
  StoredEventText,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from './port.ts';

/** The columns of an `events` row every SQL adapter stores, as its driver reads them back. */
export interface EventRowColumns {
  stream: string;
  revision: number;
  event_id: string;
  type: string;
  schema_version: number;
  ptce_id: string;
  occurred_at: string;
  recorded_at: string;
  recorded_by: string;
  data: string;
  metadata: string | null;
  prev_hash: string;
  hash: string;
}

/** An `events` row as stored, data and metadata left as their JSON text, not vouched for. */
export function storedTextOf(row: EventRowColumns, position: string): StoredEventText {
  return {
    eventId: row.event_id,
    type: row.type,
    schemaVersion: row.schema_version,
    ptceId: row.ptce_id,
    occurredAt: row.occurred_at,
    recordedBy: row.recorded_by,
    dataJson: row.data,
    dataVouched: false,
    metadataJson: row.metadata,
    stream: row.stream,
    revision: row.revision,
    position,
    recordedAt: row.recorded_at,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

export const POSITION_WIDTH = 20;

const ZEROS = '0'.repeat(POSITION_WIDTH);

/** Each part in POSITION_WIDTH decimal digits, one after the other. */
export function formatPosition(...parts: readonly (bigint | number)[]): string {
  // Joined, not padStart-ed and concatenated: those make a rope of three to seven heap strings,
  // which a cached ledger then keeps for every event it holds; join makes one flat string.
  const pieces: string[] = [];
  for (const part of parts) {
    const digits = part.toString();
    pieces.push(ZEROS.slice(digits.length), digits);
  }
  return pieces.join('');
}

/** Server clock, ISO-8601 with milliseconds. */
export function nowInstant(): string {
  return new Date().toISOString();
}

export interface StreamHead {
  readonly revision: number;
  readonly hash: string;
}

/** Throws RevisionConflictError unless the head satisfies the expectation. */
export function checkExpected(stream: string, expected: ExpectedRevision, head: StreamHead | null): void {
  const actual = head === null ? null : head.revision;
  if (expected === 'any') return;
  if (expected === 'no_stream' ? actual !== null : actual !== expected) {
    throw new RevisionConflictError(stream, expected, actual);
  }
}

/** A stream of `alsoExpected` that must be checked: `any` ones check nothing and are dropped. */
export interface Guard {
  readonly stream: string;
  readonly expected: Exclude<ExpectedRevision, 'any'>;
}

/**
 * Validates `alsoExpected` and keeps the streams to check, in name order so that every adapter
 * reports the same stream when several moved.
 */
export function guardsOf(stream: string, alsoExpected: AppendOptions['alsoExpected']): Guard[] {
  if (alsoExpected === undefined) return [];
  const guards: Guard[] = [];
  for (const [other, expected] of Object.entries(alsoExpected)) {
    if (other.length === 0) throw new TypeError('alsoExpected: stream name must not be empty');
    if (other === stream) {
      throw new TypeError(
        `alsoExpected names the target stream ${stream}: its expectation is expectedRevision`,
      );
    }
    if (
      expected !== 'any' &&
      expected !== 'no_stream' &&
      !(typeof expected === 'number' && Number.isSafeInteger(expected) && expected >= 0)
    ) {
      throw new TypeError(`alsoExpected ${other}: not an expected revision: ${String(expected)}`);
    }
    if (expected !== 'any') guards.push({ stream: other, expected });
  }
  return guards.sort((a, b) => (a.stream < b.stream ? -1 : a.stream > b.stream ? 1 : 0));
}

export interface Metadata {
  readonly evidence?: NewEvent['evidence'];
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly idempotencyKey?: string;
}

export function metadataOf(event: NewEvent): Metadata {
  const meta: {
    evidence?: NewEvent['evidence'];
    correlationId?: string;
    causationId?: string;
    idempotencyKey?: string;
  } = {};
  if (event.evidence !== undefined) meta.evidence = event.evidence;
  if (event.correlationId !== undefined) meta.correlationId = event.correlationId;
  if (event.causationId !== undefined) meta.causationId = event.causationId;
  if (event.idempotencyKey !== undefined) meta.idempotencyKey = event.idempotencyKey;
  return meta;
}

/** Builds the stored envelope (without position) and its hash, chained on `prevHash`. */
export function sealEvent(
  stream: string,
  revision: number,
  recordedAt: string,
  prevHash: string,
  event: NewEvent,
): Omit<EventEnvelope, 'position'> {
  const base = {
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    ptceId: event.ptceId,
    occurredAt: event.occurredAt,
    recordedBy: event.recordedBy,
    // Stored as JSON text: hash what a reader will get back, not a Date or an undefined member.
    data: JSON.parse(JSON.stringify(event.data)) as Record<string, unknown>,
    ...metadataOf(event),
    stream,
    revision,
    recordedAt,
    prevHash,
  };
  return { ...base, hash: computeEventHash(base) };
}

/** The writer-given part of an event, in a form that compares across a round trip. */
function writerFacts(event: NewEvent): string {
  return canonicalJson({
    eventId: event.eventId,
    type: event.type,
    schemaVersion: event.schemaVersion,
    ptceId: event.ptceId,
    occurredAt: event.occurredAt,
    recordedBy: event.recordedBy,
    data: event.data,
    ...metadataOf(event),
  });
}

/**
 * Idempotency on event ids: `existing` are the stored events carrying any of the new ids. The
 * append is a replay only when every id is stored, in the same stream, as one consecutive run in
 * the same order with the same content; then the first answer is given again. Anything else is
 * a client bug, refused.
 */
export function replayOrRefuse(
  stream: string,
  events: readonly NewEvent[],
  existing: readonly EventEnvelope[],
): AppendResult {
  const byId = new Map(existing.map((e) => [e.eventId, e]));
  const stored: EventEnvelope[] = [];
  for (const event of events) {
    const found = byId.get(event.eventId);
    if (found === undefined) {
      const first = existing[0]!;
      throw new DuplicateEventIdError(
        first.eventId,
        'already stored, but re-appended together with new events',
      );
    }
    if (found.stream !== stream) {
      throw new DuplicateEventIdError(event.eventId, `already stored in stream ${found.stream}`);
    }
    if (writerFacts(found) !== writerFacts(event)) {
      throw new DuplicateEventIdError(event.eventId, 'already stored with another content');
    }
    const previous = stored[stored.length - 1];
    if (previous !== undefined && found.revision !== previous.revision + 1) {
      throw new DuplicateEventIdError(event.eventId, 'already stored, but not as the same batch');
    }
    stored.push(found);
  }
  const last = stored[stored.length - 1]!;
  return { events: stored, nextRevision: last.revision, position: last.position };
}

export function assertAppendable(stream: string, events: readonly NewEvent[]): void {
  if (stream.length === 0) throw new TypeError('stream name must not be empty');
  if (events.length === 0) throw new TypeError('append needs at least one event');
  const ids = new Set<string>();
  for (const event of events) {
    if (ids.has(event.eventId)) throw new DuplicateEventIdError(event.eventId, 'appears twice in one append');
    ids.add(event.eventId);
  }
}

/** Wakes waiting subscription loops; a waiter also wakes after `ms` so other writers' events are polled. */
export class Waker {
  private waiters = new Set<() => void>();
  /** Bumped on every wake, so a loop can tell it missed one between its read and its wait. */
  generation = 0;

  wake(): void {
    this.generation++;
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const w of waiters) w();
  }

  wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }
}

const BATCH = 500;

/**
 * Catch-up then live, by reading the log after a checkpoint in batches. The handler is awaited
 * before the next event, so events reach it once each and in log order.
 */
export function pollingSubscription(
  read: (after: string | undefined, limit: number) => Promise<EventEnvelope[]>,
  waker: Waker,
  pollMs: number,
  handler: SubscriptionHandler,
  options?: SubscribeOptions,
): Subscription {
  let stopped = false;
  let checkpoint = options?.after;
  const done = (async () => {
    // Let the caller hold the Subscription before the first delivery.
    await Promise.resolve();
    while (!stopped) {
      const generation = waker.generation;
      const batch = await read(checkpoint, BATCH);
      for (const event of batch) {
        if (stopped) return;
        await handler(event);
        checkpoint = event.position;
      }
      if (batch.length < BATCH && !stopped && generation === waker.generation) await waker.wait(pollMs);
    }
  })();
  // Nobody may await `done`; a fatal error must not become an unhandled rejection that kills the process.
  done.catch(() => {});
  return {
    done,
    async stop() {
      stopped = true;
      waker.wake();
      await done.catch(() => {});
    },
  };
}
