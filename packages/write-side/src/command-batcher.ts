import type { AppendResult, EventStore } from '@ptce/event-store';
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
      prevHash: '',
      hash: '',
    });
  }
  return next;
}

/** What one command appends, decided on the state its predecessors in the batch left. */
export type Decide<S> = (loaded: LoadedLedger<S>) => readonly NewEvent[];

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
      loaded = await this.folds.catchUp(streams);
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
      if (onProvisional.length > 1) this.folds.evict(streams);
      // Alone, the first accepted command failed on its own account: that is its answer. Every
      // other was decided on events that were not stored, refusals included: each goes again
      // alone (one command's fault, a duplicate id…, must not fail the others), decided anew on
      // the state as stored, and gets its own answer.
      if (accepted.length === 1) accepted[0]!.command.reject(error);
      const again = onProvisional.slice(accepted.length === 1 ? 1 : 0);
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
    // A store answers an append whose event ids it already holds with the events it stored then
    // (a retry of an append that was stored though its caller was told it failed) and appends
    // nothing: the provisional events are then not the stream's next ones, and caching them would
    // fold them twice and expect a revision the stream does not have.
    const first = (expected ?? -1) + 1;
    const appended =
      result.events.length === events.length && result.events.every((e, i) => e.revision === first + i);
    if (!appended || !this.folds.keep(streams, state, revisions, result.events, result.position)) {
      this.folds.evict(streams);
    }
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
    const { fold } = this.folds;
    let state = loaded.state;
    const revisions = { ...loaded.revisions };
    const accepted: { command: Queued<S>; events: readonly NewEvent[] }[] = [];
    // Every command from the first accepted on, in queue order, with the refusal of those refused:
    // they were decided on events not stored yet, so a refusal stands only once those are.
    const onProvisional: { command: Queued<S>; refusal?: { error: unknown } }[] = [];
    const events: NewEvent[] = [];
    for (const command of batch) {
      let decided: readonly NewEvent[];
      let next = state;
      let revision = revisions[stream] ?? -1;
      try {
        const decidedAt = new Date(command.now()).toISOString();
        decided = command.decide({ state, revisions: { ...revisions } });
        if (decided.length === 0) throw new TypeError('a command must append at least one event');
        next = foldProvisionally(fold, next, decided, stream, revision, decidedAt);
        revision += decided.length;
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
}
