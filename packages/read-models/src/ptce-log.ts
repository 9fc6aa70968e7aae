import { foldLedger, type Ledger } from '@ptce/domain';
import { type EventStore, type FoldableEvent, readStreamForFold } from '@ptce/event-store';
import { endInstant, ptceStreams } from '@ptce/events';

export const byPosition = (a: Pick<FoldableEvent, 'position'>, b: Pick<FoldableEvent, 'position'>) =>
  a.position < b.position ? -1 : a.position > b.position ? 1 : 0;

/**
 * The PTCE's log: its three streams merged in position order. The streams are read one by one,
 * so a write landing between two reads could leave a later event in without an earlier one of
 * another stream. Each round therefore reads every stream again from where it stopped, until a
 * round brings nothing new: then every stream held, at the end of the round before, exactly what
 * was read, and the merge is the log as it stood at that instant.
 */
export async function readPtceLog(store: EventStore, ptceId: string): Promise<FoldableEvent[]> {
  const streams = ptceStreams(ptceId);
  const read: FoldableEvent[][] = await Promise.all(streams.map((stream) => readOn(store, stream, [])));
  for (let round = 0; round < 10; round++) {
    const more = await Promise.all(streams.map((stream, i) => readOn(store, stream, read[i]!)));
    if (more.every((events) => events.length === 0)) break;
    for (const [i, events] of more.entries()) read[i]!.push(...events);
  }
  return mergedByPosition(read);
}

/**
 * The streams' events in one list in position order: merged, since each stream's revisions come
 * in position order, which a sort of the whole log took a few percent of a rebuild to find again.
 * Should a store ever give a stream out of that order, the merge would show it, and the log is
 * sorted instead.
 */
function mergedByPosition(lists: readonly (readonly FoldableEvent[])[]): FoldableEvent[] {
  const merged: FoldableEvent[] = [];
  const next = lists.map(() => 0);
  for (;;) {
    let from = -1;
    let first: FoldableEvent | undefined;
    for (let l = 0; l < lists.length; l++) {
      const candidate = lists[l]![next[l]!];
      if (candidate && (!first || byPosition(candidate, first) < 0)) {
        from = l;
        first = candidate;
      }
    }
    if (!first) return merged;
    const last = merged.at(-1);
    if (last && byPosition(last, first) > 0) return lists.flat().sort(byPosition);
    merged.push(first);
    next[from]! += 1;
  }
}

/** Rows read at once: a whole long stream in one read keeps every row alive until the last is parsed. */
const PAGE = 2_000;

/** The stream's events after those already `read`, to its end, a page at a time. */
async function readOn(
  store: EventStore,
  stream: string,
  read: readonly FoldableEvent[],
): Promise<FoldableEvent[]> {
  const events: FoldableEvent[] = [];
  let from = read.length === 0 ? 0 : read.at(-1)!.revision + 1;
  for (;;) {
    const page = await readStreamForFold(store, stream, { fromRevision: from, limit: PAGE });
    for (const event of page) events.push(event);
    if (page.length < PAGE) return events;
    from = page.at(-1)!.revision + 1;
  }
}

/** Which part of the log an answer is computed on (transaction time). */
export type LogCut =
  /** Instant in ms: the longest prefix whose events were all recorded at or before it. */
  | { readonly kind: 'knownAt'; readonly at: number }
  /** Every event at or before that position (positions compare as strings). */
  | { readonly kind: 'atPosition'; readonly position: string };

/**
 * The prefix of the log a cut keeps. For `knownAt` it is a prefix in position order, not every
 * event recorded by then: an event recorded later but placed earlier in the log (clocks of two
 * processes differ by a little) ends the prefix, so an answer never holds an event without
 * every event the log placed before it — a correction without what it corrects.
 */
export function cutLog<E extends Pick<FoldableEvent, 'position' | 'recordedAt'>>(
  log: readonly E[],
  cut: LogCut,
): E[] {
  const keep = (event: E) =>
    cut.kind === 'knownAt' ? Date.parse(event.recordedAt) <= cut.at : event.position <= cut.position;
  const end = log.findIndex((event) => !keep(event));
  return end < 0 ? [...log] : log.slice(0, end);
}

/** `knownAt` as the API takes it: a date is the end of that Paris day, an instant is itself. */
export function knownAtCut(knownAt: string): LogCut {
  return { kind: 'knownAt', at: endInstant(knownAt) };
}

export interface LoadedLedger {
  readonly ledger: Ledger;
  /** The last position of the prefix used; null when the prefix is empty. */
  readonly position: string | null;
  /** The last position of the whole log read, cut or not; null when the log is empty. */
  readonly head: string | null;
}

/**
 * Reads, cuts and folds the PTCE's log with the domain's fold, from nothing: a ledger of its own,
 * nothing kept (a cold read, a command-line replay).
 */
export async function loadLedger(store: EventStore, ptceId: string, cut: LogCut): Promise<LoadedLedger> {
  const log = await readPtceLog(store, ptceId);
  const prefix = cutLog(log, cut);
  return {
    ledger: foldLedger(prefix),
    position: prefix.at(-1)?.position ?? null,
    head: log.at(-1)?.position ?? null,
  };
}
