import { type EventStore, type FoldableEvent, readStreamForFold } from '@ptce/event-store';
import type { EventEnvelope } from '@ptce/events';

export interface Fold<S> {
  initial(): S;
  /**
   * A property, not a method: TypeScript checks a method's parameters loosely, and would let a fold
   * that reads what a `FoldableEvent` lacks (hashes, recorder, metadata) take it.
   */
  readonly evolve: (state: S, event: FoldableEvent) => S;
  /**
   * Events are folded in before the store has given them a position and a recording instant
   * (`PROVISIONAL_POSITION`, the decision time): once stored, the fold is told what they got.
   */
  settle?(state: S, stored: readonly EventEnvelope[]): void;
  /** How many events the state holds, for the cache's budget (default: 1 per state). */
  size?(state: S): number;
}

export interface LoadedLedger<S> {
  readonly state: S;
  /** Revision of each stream's last event folded in, null where the stream does not exist yet. */
  readonly revisions: Readonly<Record<string, number | null>>;
}

/** As `LEDGER_CACHE_EVENTS` defaults: a cache nobody sized still cannot grow without bound. */
export const DEFAULT_MAX_CACHED_EVENTS = 300_000;

export interface FoldCacheOptions {
  /** PTCE folds kept at most (default 2,000). */
  readonly maxEntries?: number;
  /**
   * Events kept at most, all folds together (by `fold.size`; default `DEFAULT_MAX_CACHED_EVENTS`):
   * the least recently used folds go first; the one just used stays even when alone it is larger.
   * Memory follows the histories' lengths, not their count: one PTCE with 50,000 events weighs as
   * much as 500 with 100.
   */
  readonly maxEvents?: number;
  /** Events read per page when catching up (default 5,000). */
  readonly pageSize?: number;
}

interface CacheEntry<S> {
  state: S;
  /** `fold.size(state)`, counted in the cache's total. */
  size?: number;
  revisions: Record<string, number | null>;
  /** Position of the last event folded in, undefined while nothing is. */
  lastPosition: string | undefined;
}

/**
 * Folds the streams a command needs, keeping the folded state per PTCE in memory so that a
 * command only reads the events appended since the last one: a PTCE with a long history must
 * not replay it on every write. The tail is always read from the store, so several processes
 * writing the same streams stay correct; the cache only saves the replay.
 */
export class FoldCache<S> {
  private readonly cache = new Map<string, CacheEntry<S>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private cachedSize = 0;
  private readonly maxEntries: number;
  private readonly maxEvents: number;
  private readonly pageSize: number;

  constructor(
    private readonly store: EventStore,
    readonly fold: Fold<S>,
    options: FoldCacheOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 2_000;
    this.maxEvents = options.maxEvents ?? DEFAULT_MAX_CACHED_EVENTS;
    this.pageSize = options.pageSize ?? 5_000;
  }

  load(streams: readonly string[]): Promise<LoadedLedger<S>> {
    return this.exclusive(streams, () => this.catchUp(streams));
  }

  /**
   * Forgets the cached fold of `streams`, e.g. after an event the fold could not apply: the next
   * catch-up folds them from the store again.
   */
  evict(streams: readonly string[]): void {
    this.forget(keyOf(streams));
  }

  /**
   * Runs `task` once every load and append of `streams` queued before it is done: two concurrent
   * catch-ups would fold the same events twice.
   */
  exclusive<T>(streams: readonly string[], task: () => Promise<T>): Promise<T> {
    const key = keyOf(streams);
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return run;
  }

  /** Folds what the store holds beyond the cached fold of `streams`; only inside `exclusive`. */
  catchUp(streams: readonly string[]): Promise<LoadedLedger<S>> {
    return this.foldTail(keyOf(streams), streams, false);
  }

  /**
   * Keeps the state that the events just stored were folded into, provisionally, before they
   * were stored: the fold settles them first. False when it cannot (the cached fold is then
   * forgotten): the events are stored whatever the fold makes of them.
   */
  keep(
    streams: readonly string[],
    state: S,
    revisions: Record<string, number | null>,
    stored: readonly EventEnvelope[],
    position: string,
  ): boolean {
    const key = keyOf(streams);
    try {
      this.fold.settle?.(state, stored);
      this.remember(key, { state, revisions, lastPosition: position });
      return true;
    } catch {
      this.forget(key);
      return false;
    }
  }

  private remember(key: string, entry: CacheEntry<S>): void {
    this.forget(key);
    entry.size = this.fold.size?.(entry.state) ?? 1;
    this.cache.set(key, entry);
    this.cachedSize += entry.size;
    while (this.cache.size > this.maxEntries || (this.cachedSize > this.maxEvents && this.cache.size > 1)) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined || oldest === key) break;
      this.forget(oldest);
    }
  }

  private forget(key: string): void {
    const entry = this.cache.get(key);
    if (!entry) return;
    this.cache.delete(key);
    this.cachedSize -= entry.size ?? 0;
  }

  private async foldTail(
    key: string,
    streams: readonly string[],
    fromScratch: boolean,
  ): Promise<LoadedLedger<S>> {
    const cached = fromScratch ? undefined : this.cache.get(key);
    const entry: CacheEntry<S> = cached ?? {
      state: this.fold.initial(),
      revisions: Object.fromEntries(streams.map((s) => [s, null])),
      lastPosition: undefined,
    };
    // Streams are merged by global position so the fold sees the log order, a page at a time:
    // a first load of a long history never holds more than one page per stream of envelopes.
    const cursors = streams.map(
      (stream) => new StreamCursor(this.store, stream, entry.revisions[stream] ?? null, this.pageSize),
    );
    let state = entry.state;
    const revisions = { ...entry.revisions };
    let lastPosition = entry.lastPosition;
    for (let folded = 0; ; folded++) {
      const next = await nextInLogOrder(cursors);
      if (!next) break;
      // On PostgreSQL positions follow transaction ids, and transactions do not commit in that
      // order: an event of another stream may become visible after a later one was folded. The
      // cached state then misses it in the middle of its history; fold everything again (rare).
      if (folded === 0 && cached && lastPosition !== undefined && next.position < lastPosition) {
        this.forget(key);
        return this.foldTail(key, streams, true);
      }
      state = this.fold.evolve(state, next);
      revisions[next.stream] = next.revision;
      lastPosition = next.position;
    }
    this.remember(key, { state, revisions, lastPosition });
    return { state, revisions };
  }
}

const keyOf = (streams: readonly string[]): string => streams.join('|');

/** Reads one stream forwards a page at a time, from just after the revision already folded. */
class StreamCursor {
  private buffer: FoldableEvent[] = [];
  private index = 0;
  private exhausted = false;
  private from: number;

  constructor(
    private readonly store: EventStore,
    private readonly stream: string,
    folded: number | null,
    private readonly pageSize: number,
  ) {
    this.from = folded === null ? 0 : folded + 1;
  }

  async peek(): Promise<FoldableEvent | undefined> {
    if (this.index < this.buffer.length) return this.buffer[this.index];
    if (this.exhausted) return undefined;
    this.buffer = await readStreamForFold(this.store, this.stream, {
      fromRevision: this.from,
      limit: this.pageSize,
    });
    this.index = 0;
    if (this.buffer.length < this.pageSize) this.exhausted = true;
    const last = this.buffer.at(-1);
    if (last) this.from = last.revision + 1;
    return this.buffer[0];
  }

  take(): void {
    this.index++;
  }
}

async function nextInLogOrder(cursors: readonly StreamCursor[]): Promise<FoldableEvent | undefined> {
  let best: { cursor: StreamCursor; event: FoldableEvent } | undefined;
  for (const cursor of cursors) {
    const event = await cursor.peek();
    if (event && (!best || event.position < best.event.position)) best = { cursor, event };
  }
  best?.cursor.take();
  return best?.event;
}
