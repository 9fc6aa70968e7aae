import type { EventEnvelope, NewEvent } from '@ptce/events';
import type { CheckpointStore } from './checkpoints.ts';
import type { IdempotencyStore } from './idempotency.ts';
import type { PersonalKeyStore } from './personal-keys.ts';
import type { RevocationStore } from './revocations.ts';

/**
 * Where an append expects the stream to stand. `no_stream`: the stream must not exist;
 * a number: the revision of the stream's last event; `any`: no check (best effort
 * idempotency only on KurrentDB — carry an Idempotency-Key above the store).
 */
export type ExpectedRevision = 'no_stream' | 'any' | number;

export interface AppendOptions {
  /** Where the target stream must stand. */
  readonly expectedRevision: ExpectedRevision;
  /**
   * Other streams that must stand where the caller read them, checked in the same atomic step as
   * the append (on KurrentDB only just before it: see the README). A stream that moved makes the
   * append fail with a RevisionConflictError naming that stream; nothing is written. `any` checks
   * nothing. The target stream itself may not appear here: its expectation is `expectedRevision`.
   * A replay of events already stored answers as the first time, whatever these streams hold now,
   * exactly as it ignores `expectedRevision`: a retry after a lost answer must get its answer.
   */
  readonly alsoExpected?: Readonly<Record<string, ExpectedRevision>>;
  /**
   * Appends decided one on the other, sent together: once one of them fails, the later ones fail
   * too (AppendChainBrokenError) without being written, even where their own checks would pass —
   * they were decided on events that were not stored. A store that takes one append at a time in
   * order may ignore it: the caller then sends one append per chain.
   */
  readonly chain?: AppendChain;
}

/** See `AppendOptions.chain`: shared by the appends of one chain, marked once one has failed. */
export interface AppendChain {
  broken: boolean;
}

export interface AppendResult {
  /** The events as stored, with revision, position, recordedAt and hashes filled in. */
  readonly events: readonly EventEnvelope[];
  /** Revision of the stream's last event after the append. */
  readonly nextRevision: number;
  /** Position of the last appended event (opaque, ordered). */
  readonly position: string;
}

export interface ReadStreamOptions {
  readonly direction?: 'forwards' | 'backwards';
  /** Inclusive. Forwards defaults to 0, backwards to the last revision. */
  readonly fromRevision?: number;
  readonly limit?: number;
}

/** A read of one stream forwards: `readStreamText`'s and `readStreamForFold`'s. */
export type ForwardReadOptions = Omit<ReadStreamOptions, 'direction'>;

export interface ReadAllOptions {
  /** Exclusive: events strictly after this position. Omitted: from the start. */
  readonly after?: string;
  /** At most this many events, counting only those returned (the ones `types` lets through). */
  readonly limit?: number;
  /**
   * Only events whose `type` is one of these, filtered by the store itself; an empty list returns
   * nothing. Omitted: every type. `after` stays a position of the whole log, so the position of the
   * last event of a page is the next page's `after`, whatever lies between.
   */
  readonly types?: readonly string[];
}

export interface SubscribeOptions {
  /** Exclusive checkpoint: deliver events strictly after it. Omitted: from the start. */
  readonly after?: string;
}

export interface Subscription {
  /**
   * Settles once the subscription has stopped: resolves after `stop()`; rejects with the error when
   * the handler throws or the store fails (the subscription is then stopped; the rejection is
   * pre-handled, so leaving `done` unobserved cannot crash the process).
   */
  readonly done: Promise<void>;
  stop(): Promise<void>;
}

export type SubscriptionHandler = (event: EventEnvelope) => void | Promise<void>;

/**
 * An event as the store holds it, its data and metadata left as the JSON text stored: what an
 * export writes out as it is, rather than parsing every event only to serialize it again.
 */
export type StoredEventText = Omit<
  EventEnvelope,
  'data' | 'evidence' | 'correlationId' | 'causationId' | 'idempotencyKey'
> & {
  /** The JSON text stored. */
  readonly dataJson: string;
  /**
   * Whether the store vouches for `dataJson` as one JSON value as RFC 8259 has it, with no NUL in
   * it: checked in its read (SQLite), or serialized by it. An export writes vouched text out as it
   * is; other text (a row rewritten behind the store's back may hold anything) is parsed first.
   */
  readonly dataVouched: boolean;
  /** `evidence`, `correlationId`, `causationId`, `idempotencyKey` when any was given; else null. */
  readonly metadataJson: string | null;
};

/**
 * The single source of truth. Positions are opaque strings outside the adapter, but they
 * compare correctly as strings (fixed width), so callers may sort and compare them.
 */
export interface EventStore {
  readonly kind: 'sqlite' | 'postgres' | 'kurrentdb';
  append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** An empty array when the stream does not exist. */
  readStream(stream: string, options?: ReadStreamOptions): Promise<EventEnvelope[]>;
  /**
   * `readStream` forwards, each event's data and metadata as the text stored. Optional: a store
   * that keeps parsed events (KurrentDB) has none to give; `readStreamText` serves it all the same.
   */
  readStreamText?(stream: string, options?: ForwardReadOptions): Promise<StoredEventText[]>;
  /**
   * `readStream` forwards, each event with only what a fold reads (see `FoldableEvent`). Optional:
   * `readStreamForFold` serves it from `readStream` for a store that has no leaner read.
   */
  readStreamForFold?(stream: string, options?: ForwardReadOptions): Promise<FoldableEvent[]>;
  /** Revision of the stream's last event, or null when it does not exist. */
  streamRevision(stream: string): Promise<number | null>;
  readAll(options?: ReadAllOptions): Promise<EventEnvelope[]>;
  /**
   * Position of the last event of the log, or null when it holds none. A safe checkpoint:
   * `readAll({ after: await headPosition() })` skips no event, including one of a transaction that
   * commits later (PostgreSQL only counts the rows readAll would already return).
   */
  headPosition(): Promise<string | null>;
  /** Catch up from the checkpoint, then live: every event once, in log order. */
  subscribe(handler: SubscriptionHandler, options?: SubscribeOptions): Subscription;
  /** Resolves when the store answers; rejects with StoreUnavailableError otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * What a deployment keeps in its event store, opened together by `openStores`: the events, the
 * Idempotency-Key answers and the revoked tokens. On SQLite and PostgreSQL the last two are
 * tables of the events' database, made by its migrations, on the event store's own connection,
 * so they survive exactly as the events do; KurrentDB has no table for them, so they go to Redis
 * when one is configured, else to a SQLite file in the data directory. The port itself stays the
 * events' alone: a wrapper around an EventStore (a test's flaky store) owes no keys.
 */
export interface Stores {
  readonly events: EventStore;
  readonly idempotency: IdempotencyStore;
  readonly revocations: RevocationStore;
  /** Natural persons' data keys, wrapped, beside the idempotency keys. */
  readonly personalKeys: PersonalKeyStore;
  /** The signed checkpoints of the PTCE's hash chains, outside the log they attest. */
  readonly checkpoints: CheckpointStore;
  /** Closes the three and the connection they share. */
  close(): Promise<void>;
}

/**
 * What a fold of a PTCE's log reads of an event: where it stands in the log and what it says. Its
 * hashes, recorder and metadata belong to the audit: a replay of 100,000 events that reads and
 * parses them only to drop them spends a fifth of its time there.
 */
export type FoldableEvent = Pick<
  EventEnvelope,
  | 'eventId'
  | 'type'
  | 'schemaVersion'
  | 'ptceId'
  | 'occurredAt'
  | 'data'
  | 'position'
  | 'recordedAt'
  | 'stream'
  | 'revision'
>;

/** The stream's events as a fold reads them: the store's leaner read, or its events as they are. */
export function readStreamForFold(
  store: EventStore,
  stream: string,
  options: ForwardReadOptions = {},
): Promise<FoldableEvent[]> {
  return store.readStreamForFold
    ? store.readStreamForFold(stream, options)
    : store.readStream(stream, options);
}

/** The stream's events with their data as JSON text: the store's own, or its events serialized. */
export async function readStreamText(
  store: EventStore,
  stream: string,
  options: ForwardReadOptions = {},
): Promise<StoredEventText[]> {
  if (store.readStreamText) return store.readStreamText(stream, options);
  const events = await store.readStream(stream, options);
  return events.map(({ data, evidence, correlationId, causationId, idempotencyKey, ...rest }) => {
    const metadata = { evidence, correlationId, causationId, idempotencyKey };
    const given = Object.values(metadata).some((value) => value !== undefined);
    return {
      ...rest,
      dataJson: JSON.stringify(data),
      dataVouched: true,
      metadataJson: given ? JSON.stringify(metadata) : null,
    };
  });
}
