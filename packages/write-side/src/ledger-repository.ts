import type { AppendResult, EventStore } from '@ptce/event-store';
import type { EventEnvelope, NewEvent } from '@ptce/events';

export interface Fold<S> {
  initial(): S;
  evolve(state: S, event: EventEnvelope): S;
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

export interface LedgerRepositoryOptions {
  /** PTCE folds kept at most (default 2,000). */
  readonly maxEntries?: number;
  /**
   * Events kept at most, all folds together (by `fold.size`): the least recently used folds go
   * first; the one just used stays even when alone it is larger. Memory follows the histories'
   * lengths, not their count: one PTCE with 50,000 events weighs as much as 500 with 100.
   */
  readonly maxEvents?: number;
  /** Events read per page when catching up (default 5,000). */
  readonly pageSize?: number;
  /** Commands decided into one append at most (default 256). */
  readonly maxBatch?: number;
}

/** The position of an event folded in while its append is still running. */
export const PROVISIONAL_POSITION = '';

/** What one command appends, decided on the state its predecessors in the batch left. */
export type Decide<S> = (loaded: LoadedLedger<S>) => readonly NewEvent[];

interface CacheEntry<S> {
  state: S;
  /** `fold.size(state)`, counted in the cache's total. */
  size?: number;
  revisions: Record<string, number | null>;
  /** Position of the last event folded in, undefined while nothing is. */
  lastPosition: string | undefined;
}

interface Queued<S> {
  readonly stream: string;
  readonly decide: Decide<S>;
  /** Set on a command put back after its batch failed: it is appended on its own. */
  readonly alone: boolean;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Folds the streams a command needs, keeping the folded state per PTCE in memory so that a
 * command only reads the events appended since the last one: a PTCE with a long history must
 * not replay it on every write. The tail is always read from the store, so several processes
 * writing the same streams stay correct; the cache only saves the replay.
 *
 * Commands on one PTCE are decided one after the other, each on the state the previous one left
 * (instead of racing to the same expected revision and failing with a conflict). Those that
 * queue up while an append is being written are decided together, each on its predecessors'
 * events, and appended in one `append`: one transaction and one fsync for the lot, not one each.
 */
export class LedgerRepository<S> {
  private readonly cache = new Map<string, CacheEntry<S>>();
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly queues = new Map<string, Queued<S>[]>();
  private cachedSize = 0;
  private readonly maxEntries: number;
  private readonly maxEvents: number;
  private readonly pageSize: number;
  private readonly maxBatch: number;

  constructor(
    private readonly store: EventStore,
    private readonly fold: Fold<S>,
    options: LedgerRepositoryOptions = {},
  ) {
    this.maxEntries = options.maxEntries ?? 2_000;
    this.maxEvents = options.maxEvents ?? Number.POSITIVE_INFINITY;
    this.pageSize = options.pageSize ?? 5_000;
    this.maxBatch = options.maxBatch ?? 256;
  }

  load(streams: readonly string[]): Promise<LoadedLedger<S>> {
    const key = streams.join('|');
    return this.exclusive(key, () => this.catchUp(key, streams));
  }

  /**
   * Decides a command on the current state of `streams` and appends what it decided to
   * `stream` (one of them) with the revision it was decided on as the expected one. A refusal
   * thrown by `decide` rejects this command alone; a store error or conflict rejects it as the
   * store gave it. The events reach `decide`'s caller as the store stored them.
   */
  append(streams: readonly string[], stream: string, decide: Decide<S>): Promise<AppendResult> {
    if (!streams.includes(stream)) {
      // Its events would be folded into a state that never reads that stream back.
      return Promise.reject(new TypeError(`append to ${stream}, which is not one of the streams read`));
    }
    return this.enqueue(streams, { stream, decide, alone: false });
  }

  /** Forget a cached fold, e.g. after an event the fold could not apply. */
  evict(streams: readonly string[]): void {
    this.forget(streams.join('|'));
  }

  private enqueue(
    streams: readonly string[],
    command: Omit<Queued<S>, 'resolve' | 'reject'>,
    front = false,
  ): Promise<AppendResult> {
    const key = streams.join('|');
    return new Promise<AppendResult>((resolve, reject) => {
      let queue = this.queues.get(key);
      if (!queue) {
        queue = [];
        this.queues.set(key, queue);
      }
      const queued = { ...command, resolve, reject };
      if (front) queue.unshift(queued);
      else queue.push(queued);
      // One drain per queued command: each takes what has queued up by the time it runs, and
      // finds nothing left when an earlier one took it.
      void this.exclusive(key, () => this.drain(key, streams));
    });
  }

  /** Takes the commands at the head of the queue that append to one stream, and runs them as one append. */
  private async drain(key: string, streams: readonly string[]): Promise<void> {
    const queue = this.queues.get(key);
    const head = queue?.[0];
    if (!queue || !head) return;
    let count = 1;
    if (!head.alone) {
      while (count < queue.length && count < this.maxBatch) {
        const next = queue[count]!;
        if (next.alone || next.stream !== head.stream) break;
        count++;
      }
    }
    const batch = queue.splice(0, count);
    if (queue.length === 0) this.queues.delete(key);

    let loaded: LoadedLedger<S>;
    try {
      loaded = await this.catchUp(key, streams);
    } catch (error) {
      for (const command of batch) command.reject(error);
      return;
    }
    const { state, revisions, accepted, onProvisional, events } = this.decideInTurn(
      batch,
      loaded,
      head.stream,
    );
    if (accepted.length === 0) return;
    const expected = loaded.revisions[head.stream] ?? null;

    let result: AppendResult;
    try {
      result = await this.store.append(head.stream, events, {
        expectedRevision: expected === null ? 'no_stream' : expected,
        // The commands were decided on every stream read, not only the one written: another
        // service may have appended to one of them meanwhile (a backdated departure under an
        // enrolment), and deciding again on it is the only way to see the contradiction.
        alsoExpected: Object.fromEntries(
          streams
            .filter((s) => s !== head.stream)
            .map((s) => [s, loaded.revisions[s] ?? 'no_stream'] as const),
        ),
      });
    } catch (error) {
      // The cached state is the one caught up from the store: the provisional events were folded
      // into new states, never into it. But a command decided on a provisional state may have
      // taken over what the fold derives from the cached one (the compiled ledger): kept, that
      // would be derived again from scratch on every command, so then fold again from the store.
      // A lone command (the common conflict with another process) was decided on the cached state
      // itself: keep it, and the retry reads only the other process's events.
      if (onProvisional.length > 1) this.forget(key);
      // Alone, the first accepted command failed on its own account: that is its answer. Every
      // other was decided on events that were not stored, refusals included: each goes again
      // alone (one command's fault, a duplicate id…, must not fail the others), decided anew on
      // the state as stored, and gets its own answer.
      if (accepted.length === 1) accepted[0]!.command.reject(error);
      const again = onProvisional.slice(accepted.length === 1 ? 1 : 0);
      for (const { command } of again.reverse()) {
        this.enqueue(streams, { stream: command.stream, decide: command.decide, alone: true }, true).then(
          command.resolve,
          command.reject,
        );
      }
      return;
    }
    for (const { command, refusal } of onProvisional) if (refusal) command.reject(refusal.error);
    // A store answers an append whose event ids it already holds with the events it stored then
    // (a retry of an append that was stored though its caller was told it failed) and appends
    // nothing: the provisional events are then not the stream's next ones, and caching them would
    // fold them twice and expect a revision the stream does not have.
    const first = (expected ?? -1) + 1;
    let cached =
      result.events.length === events.length && result.events.every((e, i) => e.revision === first + i);
    if (cached) {
      try {
        this.fold.settle?.(state, result.events);
        this.remember(key, { state, revisions, lastPosition: result.position });
      } catch {
        // The events are stored whatever the fold makes of them: their callers must hear so.
        cached = false;
      }
    }
    if (!cached) this.forget(key);
    let offset = 0;
    for (const { command, events: mine } of accepted) {
      const stored = result.events.slice(offset, offset + mine.length);
      offset += mine.length;
      const last = stored[stored.length - 1];
      if (last) command.resolve({ events: stored, nextRevision: last.revision, position: last.position });
      else
        command.reject(new Error(`the store answered ${result.events.length} events for ${events.length}`));
    }
  }

  /**
   * Decides each command of the batch on the state its predecessors left, their events folded in
   * provisionally (not stored yet).
   */
  private decideInTurn(batch: readonly Queued<S>[], loaded: LoadedLedger<S>, stream: string) {
    let state = loaded.state;
    const revisions = { ...loaded.revisions };
    const accepted: { command: Queued<S>; events: readonly NewEvent[] }[] = [];
    // Every command from the first accepted on, in queue order, with the refusal of those refused:
    // they were decided on events not stored yet, so a refusal stands only once those are.
    const onProvisional: { command: Queued<S>; refusal?: { error: unknown } }[] = [];
    const events: NewEvent[] = [];
    const decidedAt = new Date().toISOString();
    for (const command of batch) {
      let decided: readonly NewEvent[];
      let next = state;
      let revision = revisions[stream] ?? -1;
      try {
        decided = command.decide({ state, revisions: { ...revisions } });
        if (decided.length === 0) throw new TypeError('a command must append at least one event');
        for (const event of decided) {
          revision++;
          next = this.fold.evolve(next, {
            ...event,
            stream,
            revision,
            position: PROVISIONAL_POSITION,
            recordedAt: decidedAt,
            prevHash: '',
            hash: '',
          });
        }
      } catch (error) {
        if (accepted.length === 0) command.reject(error);
        else onProvisional.push({ command, refusal: { error } });
        continue;
      }
      state = next;
      revisions[stream] = revision;
      events.push(...decided);
      accepted.push({ command, events: decided });
      onProvisional.push({ command });
    }
    return { state, revisions, accepted, onProvisional, events };
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
        this.forget(key);
        return this.catchUp(key, streams, true);
      }
      state = this.fold.evolve(state, next);
      revisions[next.stream] = next.revision;
      lastPosition = next.position;
    }
    this.remember(key, { state, revisions, lastPosition });
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
