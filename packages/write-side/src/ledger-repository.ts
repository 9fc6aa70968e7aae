import type { AppendResult, EventStore } from '@ptce/event-store';
import { CommandBatcher, type CommandBatcherOptions, type Decide } from './command-batcher.ts';
import { type Fold, FoldCache, type FoldCacheOptions, type LoadedLedger } from './fold-cache.ts';

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

  evict(streams: readonly string[]): void {
    this.folds.evict(streams);
  }
}
