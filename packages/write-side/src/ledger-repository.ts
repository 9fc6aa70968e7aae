import type { EventStore } from '@ptce/event-store';
import type { EventEnvelope } from '@ptce/events';

export interface Fold<S> {
  initial(): S;
  evolve(state: S, event: EventEnvelope): S;
}

export interface LoadedLedger<S> {
  readonly state: S;
  /** Revision of each stream's last event folded in, null where the stream does not exist yet. */
  readonly revisions: Readonly<Record<string, number | null>>;
}

interface CacheEntry<S> {
  state: S;
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
export class LedgerRepository<S> {
  private readonly cache = new Map<string, CacheEntry<S>>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly store: EventStore,
    private readonly fold: Fold<S>,
    private readonly maxEntries = 2_000,
    private readonly pageSize = 5_000,
  ) {}

  load(streams: readonly string[]): Promise<LoadedLedger<S>> {
    const key = streams.join('|');
    return this.exclusive(key, () => this.catchUp(key, streams));
  }

  /**
   * Runs `work` on the folded state with no other `transact` or `load` of the same streams in
   * between: in one process, commands on one PTCE then decide one after the other on the state
   * the previous one appended to, instead of racing to the same expected revision and failing
   * with a conflict. Writers in other processes still race; their conflicts are retried.
   */
  transact<T>(streams: readonly string[], work: (loaded: LoadedLedger<S>) => Promise<T>): Promise<T> {
    const key = streams.join('|');
    return this.exclusive(key, async () => work(await this.catchUp(key, streams)));
  }

  /** Forget a cached fold, e.g. after an event the fold could not apply. */
  evict(streams: readonly string[]): void {
    this.cache.delete(streams.join('|'));
  }

  private async catchUp(
    key: string,
    streams: readonly string[],
    fromScratch = false,
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
        this.cache.delete(key);
        return this.catchUp(key, streams, true);
      }
      state = this.fold.evolve(state, next);
      revisions[next.stream] = next.revision;
      lastPosition = next.position;
    }
    this.cache.delete(key);
    this.cache.set(key, { state, revisions, lastPosition });
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
    return { state, revisions };
  }

  /** One catch-up per key at a time: two concurrent ones would fold the same events twice. */
  private exclusive<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(task, task);
    const settled = run.catch(() => undefined);
    this.locks.set(key, settled);
    void settled.then(() => {
      if (this.locks.get(key) === settled) this.locks.delete(key);
    });
    return run;
  }
}

/** Reads one stream forwards a page at a time, from just after the revision already folded. */
class StreamCursor {
  private buffer: EventEnvelope[] = [];
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

  async peek(): Promise<EventEnvelope | undefined> {
    if (this.index < this.buffer.length) return this.buffer[this.index];
    if (this.exhausted) return undefined;
    this.buffer = await this.store.readStream(this.stream, { fromRevision: this.from, limit: this.pageSize });
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

async function nextInLogOrder(cursors: readonly StreamCursor[]): Promise<EventEnvelope | undefined> {
  let best: { cursor: StreamCursor; event: EventEnvelope } | undefined;
  for (const cursor of cursors) {
    const event = await cursor.peek();
    if (event && (!best || event.position < best.event.position)) best = { cursor, event };
  }
  best?.cursor.take();
  return best?.event;
}
