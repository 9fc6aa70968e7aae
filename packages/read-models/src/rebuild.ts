import { type EventStore, sharedByConnections } from '@ptce/event-store';
import { parisDate } from '@ptce/events';
import type { StageRules } from '@ptce/projections';
import type { ProjectorLock } from './lock.ts';
import type { PtceReadModel, ReadModelStore } from './read-models.ts';
import { type FoldedPtce, FoldThreads, foldPtce } from './rebuild-threads.ts';

/** Page size of the scan for registrations. */
const SCAN_PAGE = 1000;
/** Models written per transaction during a rebuild. */
const COMMIT_EVERY = 50;

/** Every PTCE ever registered, by id: the registrations of the whole log, filtered by the store. */
export async function registeredPtceIds(store: EventStore): Promise<string[]> {
  const ids = new Set<string>();
  let after: string | undefined;
  for (;;) {
    const page = await store.readAll({
      ...(after === undefined ? {} : { after }),
      limit: SCAN_PAGE,
      types: ['PtceRegistered'],
    });
    for (const event of page) ids.add(event.ptceId);
    if (page.length < SCAN_PAGE) break;
    after = page.at(-1)!.position;
  }
  return [...ids].sort();
}

export interface RebuildProgress {
  /** PTCE done so far, out of `total`. */
  readonly done: number;
  readonly total: number;
  /** Events folded so far. */
  readonly events: number;
  readonly ptceId: string;
}

export interface RebuildOptions {
  readonly store: EventStore;
  readonly models: ReadModelStore;
  readonly rules: StageRules;
  /** Milliseconds since the epoch: the day the models are as of. Default `Date.now`. */
  readonly clock?: () => number;
  /** Writes only while it is held (a projector's lock, taken by the caller). */
  readonly lock?: ProjectorLock;
  readonly onProgress?: (progress: RebuildProgress) => void;
  /**
   * Threads folding PTCE side by side, this one included: the others each open the store again
   * at `storeUrl` (the URL `store` was opened at), since a rebuild is otherwise one core's work.
   * One (this thread) by default, and whenever the store cannot be opened twice (an in-memory
   * SQLite database).
   */
  readonly threads?: { readonly count: number; readonly storeUrl: string };
}

export interface RebuildSummary {
  readonly ptces: number;
  readonly models: number;
  readonly events: number;
  /** The checkpoint the models were left at: the log's head when the rebuild began. */
  readonly position: string | null;
}

/** A projector that lost its lock while writing: what it wrote was not kept. */
export class LockLostError extends Error {
  constructor() {
    super('the projector lock was taken over: nothing more was written');
  }
}

/**
 * Recomputes every model from the log, one PTCE at a time in each thread (read, fold from
 * nothing, answer, forget), so memory holds the largest histories rather than the whole log.
 * Every PTCE is read up to the log's head as it stood when the rebuild began, and the checkpoint
 * is left there, once every PTCE has been taken: a subscription from it delivers exactly what
 * came after, however long the rebuild took.
 */
export async function rebuildReadModels(options: RebuildOptions): Promise<RebuildSummary> {
  const { store, models, rules, lock } = options;
  const clock = options.clock ?? Date.now;
  const head = await store.headPosition();
  const day = parisDate(clock());
  const spec = head === null ? null : { head, day, rules };
  const threads = options.threads;
  // Started before the scan for registrations, which their start-up then overlaps.
  const helpers =
    spec && threads && threads.count > 1 && sharedByConnections(threads.storeUrl)
      ? FoldThreads.start(threads.count - 1, { ...spec, storeUrl: threads.storeUrl })
      : null;
  let ids: string[] = [];
  let events = 0;
  let written = 0;
  let batch: PtceReadModel[] = [];
  // A PTCE whose registration was retracted (by a tool writing to the store) has no model.
  let gone: string[] = [];
  const commit = async (checkpoint: string | undefined) => {
    if (!(await models.commit(batch, checkpoint, lock, gone))) throw new LockLostError();
    written += batch.length;
    batch = [];
    gone = [];
  };
  let done = 0;
  const take = async ({ ptceId, events: folded, model }: FoldedPtce) => {
    events += folded;
    if (model) batch.push(model);
    else gone.push(ptceId);
    if (batch.length + gone.length >= COMMIT_EVERY) await commit(undefined);
    done += 1;
    options.onProgress?.({ done, total: ids.length, events, ptceId });
  };
  try {
    if (spec) {
      ids = await registeredPtceIds(store);
      const foldHere = (ptceId: string) =>
        foldPtce(store, ptceId, spec).catch((err: unknown) => {
          const reason = err instanceof Error ? err.message : String(err);
          throw new Error(`rebuild of ${ptceId}: ${reason}`, { cause: err });
        });
      if (helpers && ids.length > 1) await helpers.foldAll(ids, foldHere, take);
      else for (const ptceId of ids) await take(await foldHere(ptceId));
    }
  } finally {
    await helpers?.stop();
  }
  // Threads that all ended well have answered every PTCE; a checkpoint past one missed would hide it.
  if (done !== ids.length) throw new Error(`rebuild: ${done} of ${ids.length} PTCE folded`);
  await commit(head ?? undefined);
  return { ptces: ids.length, models: written, events, position: head };
}
