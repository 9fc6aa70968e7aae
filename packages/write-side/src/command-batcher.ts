import type { AppendChain, AppendResult, EventStore } from '@ptce/event-store';
import type { NewEvent } from '@ptce/events';
import type { Fold, FoldCache, LoadedLedger } from './fold-cache.ts';

export interface CommandBatcherOptions {
  /** Commands decided into one append at most (default 256). */
  readonly maxBatch?: number;
}

/** The position of an event folded in while its append is still running. */
export const PROVISIONAL_POSITION = '';

/**
 * `events` folded into `state` as the next events of `stream` after `revision`, before the store
 * has given them a position (`PROVISIONAL_POSITION`) and a recording instant (`decidedAt`).
 */
export function foldProvisionally<S>(
  fold: Fold<S>,
  state: S,
  events: readonly NewEvent[],
  stream: string,
  revision: number,
  decidedAt: string,
): S {
  let next = state;
  let at = revision;
  for (const event of events) {
    at++;
    next = fold.evolve(next, {
      ...event,
      stream,
      revision: at,
      position: PROVISIONAL_POSITION,
      recordedAt: decidedAt,
    });
  }
  return next;
}

/** What one command appends, decided on the state its predecessors in the batch left. */
export type Decide<S> = (loaded: LoadedLedger<S>) => readonly NewEvent[];

/** The accepted commands of a batch that append to one stream, one after the other: one append. */
interface Segment<S> {
  readonly stream: string;
  /** Each stream's revision before this run: what the store must hold when it appends it. */
  readonly expected: Readonly<Record<string, number | null>>;
  readonly events: NewEvent[];
  readonly accepted: Queued<S>[];
  readonly eventCounts: Map<Queued<S>, number>;
}

interface Queued<S> {
  readonly stream: string;
  readonly decide: Decide<S>;
  /** The caller's clock: it dates the command's events until the store has recorded them. */
  readonly now: () => number;
  /** Set on a command put back after its batch failed: it is appended on its own. */
  readonly alone: boolean;
  readonly resolve: (result: AppendResult) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Commands on one PTCE are decided one after the other, each on the state the previous one left
 * (instead of racing to the same expected revision and failing with a conflict). Those that
 * queue up while an append is being written are decided together, each on its predecessors'
 * events, and appended in one `append`: one transaction and one fsync for the lot, not one each.
 */
export class CommandBatcher<S> {
  private readonly queues = new Map<string, Queued<S>[]>();
  private readonly maxBatch: number;

  constructor(
    private readonly store: EventStore,
    private readonly folds: FoldCache<S>,
    options: CommandBatcherOptions = {},
  ) {
    this.maxBatch = options.maxBatch ?? 256;
  }

  /**
   * Decides a command on the current state of `streams` and appends what it decided to
   * `stream` (one of them) with the revision it was decided on as the expected one. A refusal
   * thrown by `decide` rejects this command alone; a store error or conflict rejects it as the
   * store gave it. The events reach `decide`'s caller as the store stored them.
   */
  append(
    streams: readonly string[],
    stream: string,
    decide: Decide<S>,
    now: () => number,
  ): Promise<AppendResult> {
    if (!streams.includes(stream)) {
      // Its events would be folded into a state that never reads that stream back.
      return Promise.reject(new TypeError(`append to ${stream}, which is not one of the streams read`));
    }
    return this.enqueue(streams, { stream, decide, now, alone: false });
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
      void this.folds.exclusive(streams, () => this.drain(key, streams));
    });
  }

  /**
   * Takes the commands at the head of the queue and runs them as appends: those to one stream,
   * or, on a store that writes the appends of one turn in one transaction in their order
   * (SQLite), those to any of the PTCE's streams — each run of one stream its own append, all
   * sent in the same turn, each expecting what the runs before it leave.
   */
  private async drain(key: string, streams: readonly string[]): Promise<void> {
    const queue = this.queues.get(key);
    const head = queue?.[0];
    if (!queue || !head) return;
    const acrossStreams = this.store.kind === 'sqlite';
    let count = 1;
    if (!head.alone) {
      while (count < queue.length && count < this.maxBatch) {
        const next = queue[count]!;
        if (next.alone || (!acrossStreams && next.stream !== head.stream)) break;
        count++;
      }
    }
    const batch = queue.splice(0, count);
    if (queue.length === 0) this.queues.delete(key);

    let loaded: LoadedLedger<S>;
    try {
      loaded = await this.folds.catchUp(streams);
    } catch (error) {
      for (const command of batch) command.reject(error);
      return;
    }
    const { state, revisions, segments, onProvisional } = this.decideInTurn(batch, loaded);
    if (segments.length === 0) return;

    // Sent without a turn in between: the store writes them in this order, in one transaction, and
    // writes none after one that fails (their guards alone would not see a writer that moved the
    // failed run's stream by as many events).
    const chain: AppendChain = { broken: false };
    const appends = segments.map((segment) => this.appendRun(segment, streams, chain));
    const results = await Promise.allSettled(appends);
    const failedAt = results.findIndex((r) => r.status === 'rejected');

    if (failedAt >= 0) {
      // The cached state is the one caught up from the store: the provisional events were folded
      // into new states, never into it. But a command decided on a provisional state may have
      // taken over what the fold derives from the cached one (the compiled ledger): kept, that
      // would be derived again from scratch on every command, so then fold again from the store.
      // A lone command (the common conflict with another process) was decided on the cached state
      // itself: keep it, and the retry reads only the other process's events.
      if (onProvisional.length > 1) this.folds.evict(streams);
      const error = (results[failedAt] as PromiseRejectedResult).reason;
      const lone = segments.length === 1 && segments[0]!.accepted.length === 1;
      // What the stored runs decided stands: their commands' answers, and the refusals decided on
      // nothing more than them.
      for (const entry of onProvisional) {
        if (entry.segment >= failedAt) continue;
        if (entry.refusal) entry.command.reject(entry.refusal.error);
      }
      for (let i = 0; i < failedAt; i++) this.answer(segments[i]!, results[i]!);
      // Alone, the first accepted command failed on its own account: that is its answer. Every
      // other was decided on events that were not stored, refusals included: each goes again
      // alone (one command's fault, a duplicate id…, must not fail the others), decided anew on
      // the state as stored, and gets its own answer.
      if (lone) segments[0]!.accepted[0]!.reject(error);
      const again = onProvisional.filter(
        (entry) => entry.segment >= failedAt && !(lone && entry.command === segments[0]!.accepted[0]),
      );
      for (const { command } of again.reverse()) {
        const { stream, decide, now } = command;
        this.enqueue(streams, { stream, decide, now, alone: true }, true).then(
          command.resolve,
          command.reject,
        );
      }
      return;
    }
    for (const { command, refusal } of onProvisional) if (refusal) command.reject(refusal.error);
    const stored = results.flatMap((r) => (r.status === 'fulfilled' ? r.value.events : []));
    // A store answers an append whose event ids it already holds with the events it stored then
    // (a retry of an append that was stored though its caller was told it failed) and appends
    // nothing: the provisional events are then not the stream's next ones, and caching them would
    // fold them twice and expect a revision the stream does not have.
    const appended = segments.every((segment, i) => {
      const result = results[i] as PromiseFulfilledResult<AppendResult>;
      const first = (segment.expected[segment.stream] ?? -1) + 1;
      return (
        result.value.events.length === segment.events.length &&
        result.value.events.every((e, n) => e.revision === first + n)
      );
    });
    const last = (results.at(-1) as PromiseFulfilledResult<AppendResult>).value;
    if (!appended || !this.folds.keep(streams, state, revisions, stored, last.position)) {
      this.folds.evict(streams);
    }
    for (let i = 0; i < segments.length; i++) this.answer(segments[i]!, results[i]!);
  }

  /** Async so that a store throwing instead of rejecting fails this run's promise, not the drain. */
  private async appendRun(
    segment: Segment<S>,
    streams: readonly string[],
    chain: AppendChain,
  ): Promise<AppendResult> {
    return this.store.append(segment.stream, segment.events, {
      expectedRevision: segment.expected[segment.stream] ?? 'no_stream',
      // The commands were decided on every stream read, not only the one written: another
      // service may have appended to one of them meanwhile (a backdated departure under an
      // enrolment), and deciding again on it is the only way to see the contradiction.
      alsoExpected: Object.fromEntries(
        streams
          .filter((s) => s !== segment.stream)
          .map((s) => [s, segment.expected[s] ?? 'no_stream'] as const),
      ),
      chain,
    });
  }

  /** Each command of a stored run gets its own events, as the store stored them. */
  private answer(segment: Segment<S>, result: PromiseSettledResult<AppendResult>): void {
    if (result.status !== 'fulfilled') return;
    let offset = 0;
    for (const command of segment.accepted) {
      const mine = segment.eventCounts.get(command) ?? 0;
      const stored = result.value.events.slice(offset, offset + mine);
      offset += mine;
      const last = stored[stored.length - 1];
      if (last) command.resolve({ events: stored, nextRevision: last.revision, position: last.position });
      else
        command.reject(
          new Error(`the store answered ${result.value.events.length} events for ${segment.events.length}`),
        );
    }
  }

  /**
   * Decides each command of the batch on the state its predecessors left, their events folded in
   * provisionally (not stored yet), and groups the accepted ones into runs of one stream.
   */
  private decideInTurn(batch: readonly Queued<S>[], loaded: LoadedLedger<S>) {
    const { fold } = this.folds;
    let state = loaded.state;
    const revisions = { ...loaded.revisions };
    const segments: Segment<S>[] = [];
    // Every command from the first accepted on, in queue order, with the refusal of those refused
    // and the last run decided before it: they were decided on events not stored yet, so a
    // refusal stands only once those are.
    const onProvisional: { command: Queued<S>; segment: number; refusal?: { error: unknown } }[] = [];
    for (const command of batch) {
      const stream = command.stream;
      let decided: readonly NewEvent[];
      let next = state;
      const revision = revisions[stream] ?? -1;
      try {
        const decidedAt = new Date(command.now()).toISOString();
        decided = command.decide({ state, revisions: { ...revisions } });
        if (decided.length === 0) throw new TypeError('a command must append at least one event');
        next = foldProvisionally(fold, next, decided, stream, revision, decidedAt);
      } catch (error) {
        if (segments.length === 0) command.reject(error);
        else onProvisional.push({ command, segment: segments.length - 1, refusal: { error } });
        continue;
      }
      let segment = segments.at(-1);
      if (!segment || segment.stream !== stream) {
        segment = { stream, expected: { ...revisions }, events: [], accepted: [], eventCounts: new Map() };
        segments.push(segment);
      }
      state = next;
      revisions[stream] = revision + decided.length;
      segment.events.push(...decided);
      segment.accepted.push(command);
      segment.eventCounts.set(command, decided.length);
      onProvisional.push({ command, segment: segments.length - 1 });
    }
    return { state, revisions, segments, onProvisional };
  }
}
