import { parseEvent, TRANSACTION_TIME_TYPES } from '@ptce/events';
import { LedgerCache } from './cache.ts';
import type { FoldedEvent, Ledger, LoggedEvent, LogNode } from './types.ts';

const NONE: readonly string[] = Object.freeze([]);

/**
 * An empty ledger whose compilations and replays `cache` keeps, as it keeps those of every
 * ledger folded from it. Without one, the ledger gets a cache of its own.
 */
export function initialLedger(cache: LedgerCache = new LedgerCache()): Ledger {
  return { size: 0, last: null, cache };
}

/** Events must be given in log order (ascending position); the fold never reorders the log. */
export function evolveLedger(ledger: Ledger, event: FoldedEvent): Ledger {
  const { cache } = ledger;
  return {
    size: ledger.size + 1,
    last: { event: logged(event, ledger.size, cache), prev: ledger.last },
    cache,
  };
}

export function foldLedger(events: Iterable<FoldedEvent>, from: Ledger = initialLedger()): Ledger {
  // The nodes are chained here and wrapped once: a ledger made for every event folded, only to be
  // dropped by the next, was garbage in proportion to the history.
  const { cache } = from;
  let last = from.last;
  let size = from.size;
  for (const e of events) {
    last = { event: logged(e, size, cache), prev: last };
    size++;
  }
  return size === from.size ? from : { size, last, cache };
}

export { ledgerEvents } from './events.ts';

/**
 * Parses and places an envelope at `logIndex` of a log, its strings shared through `cache`; an
 * already logged one at that index is reused.
 */
export function logged(event: FoldedEvent, logIndex: number, cache: LedgerCache): LoggedEvent {
  const already = event as Partial<LoggedEvent>;
  if (already.logIndex === logIndex && already.correctedBy === NONE) return event as LoggedEvent;
  let data = event.data;
  let invalid: LoggedEvent['invalid'];
  let start = 0;
  let isDate = false;
  try {
    const parsed = parseEvent(event);
    // The parsed data is a copy of the envelope's, made here: ours to share strings in.
    data = cache.internData(parsed.data);
    const place = cache.placeInTime(event.occurredAt);
    if (place) {
      start = place.start;
      isDate = place.isDate;
    } else if (!TRANSACTION_TIME_TYPES.has(parsed.type)) {
      // Corrections and retractions act in transaction time: their own occurredAt places nothing.
      const message = `occurredAt ${JSON.stringify(event.occurredAt)} is not a valid time`;
      invalid = { code: 'invalid_valid_time', message };
    }
  } catch (err) {
    invalid = { code: 'invalid_event', message: err instanceof Error ? err.message : String(err) };
  }
  // One literal, always the same fields in the same order: every logged event shares one shape.
  return {
    eventId: event.eventId,
    type: cache.intern(event.type),
    schemaVersion: event.schemaVersion,
    ptceId: cache.intern(event.ptceId),
    occurredAt: cache.intern(event.occurredAt),
    data,
    position: event.position,
    recordedAt: cache.intern(event.recordedAt),
    logIndex,
    invalid,
    start,
    isDate,
    correctedBy: NONE,
  };
}

type Settling = { -readonly [K in 'position' | 'recordedAt']: FoldedEvent[K] };

/**
 * Gives the last events of the log the position and recording instant the store gave them. A
 * writer folds a command's events in before they are stored, so that the next command queued on
 * the PTCE can be decided on them and both be written in one transaction; they are then settled
 * here, once, while that writer still holds the PTCE. A corrected fact is a copy: it is settled too.
 */
export function settleLedger(ledger: Ledger, stored: readonly FoldedEvent[]): void {
  const nodes: LogNode[] = new Array(stored.length);
  let node = ledger.last;
  for (let i = stored.length - 1; i >= 0; i--) {
    const event = stored[i]!;
    if (!node || node.event.eventId !== event.eventId) {
      throw new Error(`settleLedger: ${event.eventId} is not where the log has it`);
    }
    Object.assign(node.event as Settling, { position: event.position, recordedAt: event.recordedAt });
    nodes[i] = node;
    node = node.prev;
  }
  ledger.cache.settle(nodes, stored);
}
