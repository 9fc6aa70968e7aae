import {
  BACKWARDS,
  CancelledError,
  DeadlineExceededError,
  excludeSystemEvents,
  FORWARDS,
  jsonEvent,
  KurrentDBClient,
  NO_STREAM,
  NotLeaderError,
  type Position,
  type RecordedEvent,
  START,
  StreamNotFoundError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@kurrent/kurrentdb-client';
import { type EventEnvelope, GENESIS_HASH, type NewEvent } from '@ptce/events';
import {
  assertAppendable,
  checkExpected,
  formatPosition,
  type Guard,
  guardsOf,
  nowInstant,
  POSITION_WIDTH,
  replayOrRefuse,
  type StreamHead,
  sealEvent,
} from './common.ts';
import { RevisionConflictError, StoreUnavailableError } from './errors.ts';
import type {
  AppendOptions,
  AppendResult,
  EventStore,
  ReadAllOptions,
  ReadStreamOptions,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from './port.ts';

/** Our envelope fields that KurrentDB has no place for travel in the event metadata. */
interface StoredMetadata {
  readonly ptceId: string;
  readonly occurredAt: string;
  readonly recordedAt: string;
  readonly recordedBy: string;
  readonly schemaVersion: number;
  readonly prevHash: string;
  readonly hash: string;
  readonly evidence?: NewEvent['evidence'];
  readonly correlationId?: string;
  readonly causationId?: string;
  readonly idempotencyKey?: string;
  /** KurrentDB's own names, so its projections and UI link related events. */
  readonly $correlationId?: string;
  readonly $causationId?: string;
}

function encodePosition(position: Position): string {
  return formatPosition(position.commit, position.prepare);
}

function decodePosition(value: string): Position {
  if (!/^\d+$/.test(value) || value.length !== 2 * POSITION_WIDTH) {
    throw new TypeError(`not a kurrentdb event-store position: ${value}`);
  }
  return { commit: BigInt(value.slice(0, POSITION_WIDTH)), prepare: BigInt(value.slice(POSITION_WIDTH)) };
}

function isOurs(event: RecordedEvent | undefined): event is RecordedEvent {
  if (event === undefined || !event.isJson) return false;
  if (event.streamId.startsWith('$') || event.type.startsWith('$')) return false;
  const meta = event.metadata as Partial<StoredMetadata> | undefined;
  return typeof meta?.hash === 'string';
}

function toEnvelope(event: RecordedEvent): EventEnvelope {
  const meta = event.metadata as unknown as StoredMetadata;
  if (event.position === undefined) {
    throw new StoreUnavailableError('kurrentdb: the server returns no event positions (needs ≥ 22.6)');
  }
  return {
    eventId: event.id,
    type: event.type,
    schemaVersion: meta.schemaVersion,
    ptceId: meta.ptceId,
    occurredAt: meta.occurredAt,
    recordedBy: meta.recordedBy,
    data: event.data as Record<string, unknown>,
    ...(meta.evidence !== undefined ? { evidence: meta.evidence } : {}),
    ...(meta.correlationId !== undefined ? { correlationId: meta.correlationId } : {}),
    ...(meta.causationId !== undefined ? { causationId: meta.causationId } : {}),
    ...(meta.idempotencyKey !== undefined ? { idempotencyKey: meta.idempotencyKey } : {}),
    stream: event.streamId,
    revision: Number(event.revision),
    position: encodePosition(event.position),
    recordedAt: meta.recordedAt,
    prevHash: meta.prevHash,
    hash: meta.hash,
  };
}

function toStoreError(error: unknown): unknown {
  if (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof NotLeaderError ||
    error instanceof CancelledError
  ) {
    return new StoreUnavailableError(`kurrentdb: ${error.message}`, { cause: error });
  }
  const code = (error as { code?: unknown } | null)?.code;
  // gRPC 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED, surfaced raw by some client paths.
  if (code === 14 || code === 4) {
    return new StoreUnavailableError(`kurrentdb: ${(error as Error).message}`, { cause: error });
  }
  return error;
}

/**
 * A KurrentDB connection string as the client takes it: `esdb://` (EventStoreDB's, still given by
 * existing deployments) and `kurrent://` name the same server as `kurrentdb://`, which the client
 * would otherwise warn about on every start.
 */
export function kurrentConnectionString(url: string): string {
  return url.replace(/^(esdb|kurrent)(\+discover)?:\/\//i, 'kurrentdb$2://');
}

export async function openKurrentEventStore(url: string): Promise<EventStore> {
  const client = KurrentDBClient.connectionString(kurrentConnectionString(url));
  const store = new KurrentEventStore(client);
  try {
    await store.ping();
  } catch (error) {
    await client.dispose().catch(() => {});
    throw error;
  }
  return store;
}

class KurrentEventStore implements EventStore {
  readonly kind = 'kurrentdb';
  private readonly subscriptions = new Set<Subscription>();
  private closed = false;

  constructor(private readonly client: KurrentDBClient) {}

  private async guard<T>(work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StoreUnavailableError('kurrentdb: the store is closed');
    try {
      return await work();
    } catch (error) {
      throw toStoreError(error);
    }
  }

  private async readRaw(stream: string, options: ReadStreamOptions): Promise<RecordedEvent[]> {
    const out: RecordedEvent[] = [];
    try {
      const read = this.client.readStream(stream, {
        direction: options.direction === 'backwards' ? BACKWARDS : FORWARDS,
        fromRevision:
          options.fromRevision !== undefined
            ? BigInt(options.fromRevision)
            : options.direction === 'backwards'
              ? 'end'
              : START,
        ...(options.limit !== undefined ? { maxCount: options.limit } : {}),
      });
      for await (const resolved of read) {
        if (isOurs(resolved.event)) out.push(resolved.event);
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return out;
  }

  private async head(stream: string): Promise<StreamHead | null> {
    const [last] = await this.readRaw(stream, { direction: 'backwards', limit: 1 });
    if (last === undefined) return null;
    return { revision: Number(last.revision), hash: (last.metadata as unknown as StoredMetadata).hash };
  }

  /**
   * KurrentDB only deduplicates ids written right after the expected revision, and per stream, so
   * our idempotency on event ids looks for them in the stream itself (governance streams are small).
   */
  private async storedWithIds(stream: string, ids: ReadonlySet<string>): Promise<EventEnvelope[]> {
    const found = (await this.readRaw(stream, {})).filter((e) => ids.has(e.id));
    return found.map(toEnvelope);
  }

  /**
   * NOT ATOMIC for `alsoExpected`: an append through `appendToStream` can only state the
   * revision of the stream it writes to, so the other streams' heads are read just before the
   * append and an append that finds one moved is refused. An append to one of them landing between
   * that read and ours goes undetected: this is a check-then-act, which narrows the race between
   * split services on KurrentDB but does not close it.
   */
  private async checkGuards(guards: readonly Guard[]): Promise<void> {
    const heads = await Promise.all(guards.map((g) => this.head(g.stream)));
    guards.forEach((g, i) => {
      checkExpected(g.stream, g.expected, heads[i] ?? null);
    });
  }

  async append(stream: string, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    assertAppendable(stream, events);
    if (stream.startsWith('$'))
      throw new TypeError('stream names starting with $ are KurrentDB system streams');
    const guards = guardsOf(stream, options.alsoExpected);
    const expected = options.expectedRevision;
    const ids = new Set(events.map((e) => e.eventId));
    return this.guard(async () => {
      const existing = await this.storedWithIds(stream, ids);
      if (existing.length > 0) return replayOrRefuse(stream, events, existing);
      for (;;) {
        const head = await this.head(stream);
        checkExpected(stream, expected, head);
        await this.checkGuards(guards);
        const recordedAt = nowInstant();
        let revision = head === null ? -1 : head.revision;
        let prevHash = head === null ? GENESIS_HASH : head.hash;
        const sealed = events.map((event) => {
          revision++;
          const s = sealEvent(stream, revision, recordedAt, prevHash, event);
          prevHash = s.hash;
          return s;
        });
        try {
          // The hash chain needs the exact predecessor, so even `any` appends at the head just read.
          await this.client.appendToStream(
            stream,
            sealed.map((s) =>
              jsonEvent({
                id: s.eventId,
                type: s.type,
                data: s.data as Record<string, unknown>,
                metadata: {
                  ptceId: s.ptceId,
                  occurredAt: s.occurredAt,
                  recordedAt: s.recordedAt,
                  recordedBy: s.recordedBy,
                  schemaVersion: s.schemaVersion,
                  prevHash: s.prevHash,
                  hash: s.hash,
                  ...(s.evidence !== undefined ? { evidence: s.evidence } : {}),
                  ...(s.correlationId !== undefined
                    ? { correlationId: s.correlationId, $correlationId: s.correlationId }
                    : {}),
                  ...(s.causationId !== undefined
                    ? { causationId: s.causationId, $causationId: s.causationId }
                    : {}),
                  ...(s.idempotencyKey !== undefined ? { idempotencyKey: s.idempotencyKey } : {}),
                } satisfies StoredMetadata,
              }),
            ),
            { streamState: head === null ? NO_STREAM : BigInt(head.revision) },
          );
        } catch (error) {
          if (!(error instanceof WrongExpectedVersionError)) throw error;
          const again = await this.storedWithIds(stream, ids);
          if (again.length > 0) return replayOrRefuse(stream, events, again);
          if (expected === 'any') continue;
          const actual = await this.head(stream);
          throw new RevisionConflictError(stream, expected, actual?.revision ?? null);
        }
        // Each event's own $all position is only known by reading it back.
        const written = await this.readRaw(stream, {
          fromRevision: sealed[0]!.revision,
          limit: sealed.length,
        });
        const stored = written.map(toEnvelope);
        const last = stored[stored.length - 1]!;
        return { events: stored, nextRevision: last.revision, position: last.position };
      }
    });
  }

  async readStream(stream: string, options: ReadStreamOptions = {}): Promise<EventEnvelope[]> {
    return this.guard(async () => (await this.readRaw(stream, options)).map(toEnvelope));
  }

  async streamRevision(stream: string): Promise<number | null> {
    return this.guard(async () => (await this.head(stream))?.revision ?? null);
  }

  /**
   * `types` is applied here, not by the server: the client's readAll sends no
   * filter (only subscribeToAll takes one). The pages still walk the whole log after `after`, but
   * only the matching events are mapped and counted against `limit`.
   */
  async readAll(options: ReadAllOptions = {}): Promise<EventEnvelope[]> {
    const types = options.types === undefined ? undefined : new Set(options.types);
    return this.guard(async () => {
      if (types?.size === 0) return [];
      const out: EventEnvelope[] = [];
      const limit = options.limit ?? Number.POSITIVE_INFINITY;
      let from: Position | typeof START = options.after === undefined ? START : decodePosition(options.after);
      let after = options.after;
      for (;;) {
        let seen = 0;
        let lastPosition: Position | undefined;
        // $all reads are inclusive of fromPosition and carry system events: page, then filter.
        for await (const resolved of this.client.readAll({
          fromPosition: from,
          direction: FORWARDS,
          maxCount: 500,
        })) {
          seen++;
          const event = resolved.event;
          if (event?.position !== undefined) lastPosition = event.position;
          if (!isOurs(event)) continue;
          if (types !== undefined && !types.has(event.type)) continue;
          const envelope = toEnvelope(event);
          if (after !== undefined && envelope.position <= after) continue;
          out.push(envelope);
          if (out.length >= limit) return out;
        }
        if (seen < 500 || lastPosition === undefined) return out;
        from = lastPosition;
        after = encodePosition(lastPosition) > (after ?? '') ? encodePosition(lastPosition) : after;
      }
    });
  }

  /** The last event of ours in $all, read backwards a page at a time past system events. */
  async headPosition(): Promise<string | null> {
    return this.guard(async () => {
      const page = 32;
      let from: Position | 'end' = 'end';
      for (;;) {
        let seen = 0;
        let lastPosition: Position | undefined;
        for await (const resolved of this.client.readAll({
          fromPosition: from,
          direction: BACKWARDS,
          maxCount: page,
        })) {
          seen++;
          const event = resolved.event;
          if (event?.position !== undefined) lastPosition = event.position;
          if (isOurs(event)) return toEnvelope(event).position;
        }
        if (seen < page || lastPosition === undefined) return null;
        from = lastPosition;
      }
    });
  }

  subscribe(handler: SubscriptionHandler, options: SubscribeOptions = {}): Subscription {
    let stopped = false;
    const subscription = this.client.subscribeToAll({
      fromPosition: options.after === undefined ? START : decodePosition(options.after),
      filter: excludeSystemEvents(),
    });
    const done = (async () => {
      try {
        for await (const resolved of subscription) {
          if (stopped) return;
          if (!isOurs(resolved.event)) continue;
          const envelope = toEnvelope(resolved.event);
          if (options.after !== undefined && envelope.position <= options.after) continue;
          await handler(envelope);
        }
      } catch (error) {
        if (!stopped) throw toStoreError(error);
      }
    })();
    done.catch(() => {});
    const result: Subscription = {
      done,
      async stop() {
        stopped = true;
        await subscription.unsubscribe().catch(() => {});
        await done.catch(() => {});
      },
    };
    this.subscriptions.add(result);
    const forget = () => this.subscriptions.delete(result);
    done.then(forget, forget);
    return result;
  }

  async ping(): Promise<void> {
    await this.guard(async () => {
      for await (const _ of this.client.readAll({ fromPosition: START, maxCount: 1 })) {
        // Reading one record proves the server answers.
      }
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.subscriptions].map((s) => s.stop()));
    this.closed = true;
    await this.client.dispose();
  }
}
