import type { AppendResult, EventStore } from '@ptce/event-store';
import type { NewEvent } from '@ptce/events';
import {
  CommandBatcher,
  type CommandBatcherOptions,
  type Decide,
  foldProvisionally,
} from './command-batcher.ts';
import { type Fold, FoldCache, type FoldCacheOptions, type LoadedLedger } from './fold-cache.ts';

export interface CheckStep<S> {
  readonly stream: string;
  readonly decide: Decide<S>;
}

export type CheckOutcome =
  | { readonly ok: true; readonly events: readonly NewEvent[] }
  | { readonly ok: false; readonly error: unknown };

export interface LedgerRepositoryOptions extends FoldCacheOptions, CommandBatcherOptions {}

/** The PTCE folds a write service keeps, and the commands it decides on them, batched. */
export class LedgerRepository<S> {
  private readonly folds: FoldCache<S>;
  private readonly batcher: CommandBatcher<S>;

  constructor(store: EventStore, fold: Fold<S>, options: LedgerRepositoryOptions = {}) {
    this.folds = new FoldCache(store, fold, options);
    this.batcher = new CommandBatcher(store, this.folds, options);
  }

  load(streams: readonly string[]): Promise<LoadedLedger<S>> {
    return this.folds.load(streams);
  }

  /**
   * See `CommandBatcher.append`; `now` is the caller's clock, which dates the command's events
   * until the store has recorded them.
   */
  append(
    streams: readonly string[],
    stream: string,
    decide: Decide<S>,
    now: () => number = Date.now,
  ): Promise<AppendResult> {
    return this.batcher.append(streams, stream, decide, now);
  }

  /**
   * A dry run: decides each step in turn on the state the steps before it left, their events
   * folded in provisionally, and stores nothing. A refused step (its decide throws) leaves the
   * state as it was for the next.
   */
  async check(
    streams: readonly string[],
    steps: readonly CheckStep<S>[],
    now: () => number = Date.now,
  ): Promise<CheckOutcome[]> {
    const loaded = await this.folds.load(streams);
    let state = loaded.state;
    const revisions: Record<string, number | null> = { ...loaded.revisions };
    let folded = 0;
    const outcomes = steps.map((step): CheckOutcome => {
      try {
        const events = step.decide({ state, revisions: { ...revisions } });
        const revision = revisions[step.stream] ?? -1;
        state = foldProvisionally(
          this.folds.fold,
          state,
          events,
          step.stream,
          revision,
          new Date(now()).toISOString(),
        );
        revisions[step.stream] = revision + events.length;
        folded += events.length;
        return { ok: true, events };
      } catch (error) {
        return { ok: false, error };
      }
    });
    // Provisional events may have taken over what the cached fold derives (see CommandBatcher):
    // fold again from the store rather than derive it anew on every later command.
    if (folded > 1) this.folds.evict(streams);
    return outcomes;
  }

  evict(streams: readonly string[]): void {
    this.folds.evict(streams);
  }
}
