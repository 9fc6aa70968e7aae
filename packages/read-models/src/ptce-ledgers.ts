import { foldLedger, initialLedger, type Ledger, LedgerCache, type LogNode, LogPrefixes } from '@ptce/domain';
import { type EventStore, type FoldableEvent, readStreamForFold } from '@ptce/event-store';
import { ptceStreams } from '@ptce/events';
import type { HostContext } from '@ptce/platform';
import { byPosition, type LogCut, readPtceLog } from './ptce-log.ts';

/** A PTCE's whole log as last read, folded. */
export interface PtceLog {
  readonly ptceId: string;
  readonly ledger: Ledger;
  /** The last position of the log; null when the PTCE has no event. */
  readonly head: string | null;
  /** How many events of each of the PTCE's streams are folded in (the next revision to read). */
  readonly read: readonly number[];
}

export interface PtceLedgersOptions {
  /**
   * How many events the folded logs may hold together before the least recently used are let go
   * (about 0.5 KB each). The most recently used log is kept whatever its size.
   */
  readonly maxEvents?: number;
}

const DEFAULT_MAX_EVENTS = 400_000;
/**
 * Prefix indexes are kept for the logs most recently read at a transaction or valid time: each
 * holds a few dozen checkpoints of its replay, tens of MB for a history of 100,000 events.
 */
const PREFIXES_KEPT = 4;
/** Rounds of tail reads before the log is taken as it stands (see `readPtceLog`). */
const TAIL_ROUNDS = 10;

/**
 * The folded logs of the PTCE a read process answers for, kept between requests and brought up to
 * date by reading only what each stream gained since (or by the projector's subscription handing
 * over what it received). A read at an earlier `knownAt` or `atPosition` is a prefix of the log, so
 * it is the folded log of an earlier node of the same list: nothing is read or parsed again.
 *
 * One per process, created by its owner (the read service, the projector, a rebuild), with a
 * cache of compilations of its own; bounded by the number of events held.
 */
export class PtceLedgers {
  private readonly cache = new LedgerCache();
  private readonly logs = new Map<string, PtceLog>();
  /**
   * When each log held was last used, by a count of uses: a use only overwrites a number. Keeping
   * the logs Map in use order instead (delete, then set again) made every current read grow the
   * Map's table and rebuild it, garbage that lived long enough to be copied out of the young
   * generation, and that the old one then had to collect.
   */
  private readonly lastUsed = new Map<string, number>();
  private uses = 0;
  /** One refresh at a time per PTCE: two concurrent tail reads would fold the same events twice. */
  private readonly refreshing = new Map<string, Promise<PtceLog>>();
  /** The log's head when each PTCE's streams were last read to the end. */
  private readonly checkedAt = new Map<string, string | null>();
  private held = 0;
  private readonly maxEvents: number;
  /** By PTCE, in least-recently-used order: the prefix index of its log as last read. */
  private readonly indexes = new Map<string, LogPrefixes>();

  constructor(
    private readonly store: EventStore,
    options: PtceLedgersOptions = {},
  ) {
    this.maxEvents = options.maxEvents ?? DEFAULT_MAX_EVENTS;
  }

  /** The PTCE's log as the store has it now. */
  async latest(ptceId: string): Promise<PtceLog> {
    // The log's head is read first: whatever the streams are then read to hold it. When it has not
    // moved since this PTCE was last read to it, nothing was written anywhere: the log held is the
    // answer, with no stream read and no wait behind a refresh under way.
    // Not on PostgreSQL, whose head stops short of a transaction still open while a later one
    // has committed: there a write can land without the head moving.
    const storeHead = this.store.kind === 'postgres' ? null : await this.store.headPosition();
    const held = this.upToDate(ptceId, storeHead);
    if (held) return held;
    const before = this.refreshing.get(ptceId);
    const refresh = (async () => {
      // A refresh begun before this call may have read before the caller's write: wait for it,
      // then read the tails again.
      if (before) await before.catch(() => undefined);
      return this.refresh(ptceId, storeHead);
    })();
    this.refreshing.set(ptceId, refresh);
    try {
      return await refresh;
    } finally {
      if (this.refreshing.get(ptceId) === refresh) this.refreshing.delete(ptceId);
    }
  }

  /** The log held, when it was read to `storeHead`. */
  private upToDate(ptceId: string, storeHead: string | null): PtceLog | undefined {
    const known = this.logs.get(ptceId);
    if (!known || storeHead === null || this.checkedAt.get(ptceId) !== storeHead) return undefined;
    this.touch(known);
    return known;
  }

  /** The log as last read, if held: no store read. */
  peek(ptceId: string): PtceLog | undefined {
    return this.logs.get(ptceId);
  }

  /**
   * Events the caller received in log order (a subscription): folded into the PTCE's log when
   * they follow what it holds, ignored when it holds them already. A gap, or an event placed
   * before the log's head, lets the log go: the next `latest` reads it whole.
   */
  receive(event: FoldableEvent): void {
    const log = this.logs.get(event.ptceId);
    if (!log) return;
    const streams = ptceStreams(event.ptceId);
    const i = streams.indexOf(event.stream);
    if (i < 0) return;
    const next = log.read[i]!;
    if (event.revision < next) return;
    if (event.revision > next || (log.head !== null && event.position <= log.head)) {
      this.forget(event.ptceId);
      return;
    }
    const read = [...log.read];
    read[i] = next + 1;
    this.keep({ ptceId: log.ptceId, ledger: foldLedger([event], log.ledger), head: event.position, read });
  }

  /**
   * The ledger of the part of `log` that `cut` keeps (all of it when null), with the index of
   * every prefix of a log it is a prefix of (see LogPrefixes): the index kept for the PTCE while
   * it holds that part (a log that has only grown since still has the same earlier nodes), else a
   * new one of `log`, kept instead.
   */
  cutWithPrefixes(log: PtceLog, cut: LogCut | null): { ledger: Ledger; prefixes: LogPrefixes } {
    const kept = this.indexes.get(log.ptceId);
    if (kept) {
      const size =
        kept.ledger === log.ledger ? sizeOf(kept, log.ledger, cut) : sizeWithin(kept, log.ledger, cut);
      if (size !== null) {
        this.indexes.delete(log.ptceId);
        this.indexes.set(log.ptceId, kept);
        return { ledger: kept.ledgerOf(size), prefixes: kept };
      }
    }
    const prefixes = new LogPrefixes(log.ledger);
    this.indexes.delete(log.ptceId);
    this.indexes.set(log.ptceId, prefixes);
    if (this.indexes.size > PREFIXES_KEPT) this.indexes.delete(this.indexes.keys().next().value!);
    return { ledger: prefixes.ledgerOf(sizeOf(prefixes, log.ledger, cut)), prefixes };
  }

  forget(ptceId: string): void {
    this.indexes.delete(ptceId);
    this.drop(ptceId);
  }

  /** Lets the log go, but not its prefix index: a log replaced by a longer one keeps it (see cutWithPrefixes). */
  private drop(ptceId: string): void {
    this.checkedAt.delete(ptceId);
    this.lastUsed.delete(ptceId);
    const log = this.logs.get(ptceId);
    if (!log) return;
    this.logs.delete(ptceId);
    this.held -= log.ledger.size;
  }

  private async refresh(ptceId: string, storeHead: string | null): Promise<PtceLog> {
    // The refresh waited for may have read it all.
    const held = this.upToDate(ptceId, storeHead);
    if (held) return held;
    const known = this.logs.get(ptceId);
    const log = await this.readTails(ptceId, known);
    if (this.logs.get(ptceId) === log) this.checkedAt.set(ptceId, storeHead);
    return log;
  }

  private async readTails(ptceId: string, known: PtceLog | undefined): Promise<PtceLog> {
    if (!known) return this.load(ptceId);
    const streams = ptceStreams(ptceId);
    const read = [...known.read];
    const gained: FoldableEvent[] = [];
    for (let round = 0; round < TAIL_ROUNDS; round++) {
      const tails = await Promise.all(
        streams.map((stream, i) => readStreamForFold(this.store, stream, { fromRevision: read[i]! })),
      );
      if (tails.every((events) => events.length === 0)) break;
      tails.forEach((events, i) => {
        read[i] = read[i]! + events.length;
        gained.push(...events);
      });
    }
    if (gained.length === 0) {
      this.touch(known);
      return known;
    }
    gained.sort(byPosition);
    // An event committed late, placed before what was read (two writers' transactions ending out
    // of order): the log is read again whole rather than folded out of order.
    if (known.head !== null && gained[0]!.position <= known.head) return this.load(ptceId);
    return this.keep({
      ptceId,
      ledger: foldLedger(gained, known.ledger),
      head: gained.at(-1)!.position,
      read,
    });
  }

  private async load(ptceId: string): Promise<PtceLog> {
    this.forget(ptceId);
    const events = await readPtceLog(this.store, ptceId);
    const streams = ptceStreams(ptceId);
    const read = streams.map((stream) => events.filter((e) => e.stream === stream).length);
    return this.keep({
      ptceId,
      ledger: foldLedger(events, initialLedger(this.cache)),
      head: events.at(-1)?.position ?? null,
      read,
    });
  }

  private keep(log: PtceLog): PtceLog {
    this.drop(log.ptceId);
    this.logs.set(log.ptceId, log);
    this.touch(log);
    this.held += log.ledger.size;
    while (this.held > this.maxEvents) {
      const unused = this.leastRecentlyUsed(log.ptceId);
      if (unused === undefined) break;
      this.forget(unused);
    }
    return log;
  }

  private touch(log: PtceLog): void {
    // A log let go while its tails were read is not held: no use to count (an entry for it would
    // be chosen for eviction forever, freeing nothing).
    if (this.logs.get(log.ptceId) !== log) return;
    this.lastUsed.set(log.ptceId, ++this.uses);
  }

  /** The PTCE whose log was used longest ago, `except` aside. */
  private leastRecentlyUsed(except: string): string | undefined {
    let oldest: string | undefined;
    let oldestUse = Number.POSITIVE_INFINITY;
    for (const [ptceId, use] of this.lastUsed) {
      if (ptceId !== except && use < oldestUse) {
        oldest = ptceId;
        oldestUse = use;
      }
    }
    return oldest;
  }
}

/** How many events of `ledger`, the ledger `prefixes` indexes, `cut` keeps. */
function sizeOf(prefixes: LogPrefixes, ledger: Ledger, cut: LogCut | null): number {
  if (cut === null) return ledger.size;
  return cut.kind === 'knownAt' ? prefixes.knownAt(cut.at) : cutLedger(ledger, cut).size;
}

/**
 * How many events of `ledger` `cut` keeps, when `ledger` grew from the one `prefixes` indexes
 * and the cut ends within it; null otherwise.
 */
function sizeWithin(prefixes: LogPrefixes, ledger: Ledger, cut: LogCut | null): number | null {
  if (cut === null || ledger.size <= prefixes.size) return null;
  // The first event the index lacks, and whether the index's last node is still in the log.
  let first: LogNode | null = null;
  let node = ledger.last;
  while (node && node.event.logIndex >= prefixes.size) {
    first = node;
    node = node.prev;
  }
  if (node !== prefixes.ledger.last || !first) return null;
  if (cut.kind === 'atPosition') {
    const size = cutLedger(ledger, cut).size;
    return size <= prefixes.size ? size : null;
  }
  const size = prefixes.knownAt(cut.at);
  if (size < prefixes.size) return size;
  return Date.parse(first.event.recordedAt) > cut.at ? size : null;
}

/**
 * The ledger of the prefix of `ledger`'s log that `cut` keeps: an earlier node of the same list,
 * so its events are those already folded. For `knownAt` the prefix ends before the first event
 * (in log order) recorded after the instant, wherever later events were recorded.
 */
export function cutLedger(ledger: Ledger, cut: LogCut): Ledger {
  let end = ledger.last;
  if (cut.kind === 'atPosition') {
    while (end && end.event.position > cut.position) end = end.prev;
  } else {
    for (let node = ledger.last; node; node = node.prev) {
      if (Date.parse(node.event.recordedAt) > cut.at) end = node.prev;
    }
  }
  if (end === ledger.last) return ledger;
  return { size: end ? end.event.logIndex + 1 : 0, last: end, cache: ledger.cache };
}

/**
 * The host's one PtceLedgers: the read services mounted in one process (projections, audit) fold
 * each PTCE's log once for all of them; split apart, each process has its own.
 */
export function sharedPtceLedgers(host: Pick<HostContext, 'shared' | 'eventStore' | 'config'>): PtceLedgers {
  return host.shared(
    '@ptce/read-models:ledgers',
    () => new PtceLedgers(host.eventStore, { maxEvents: host.config.READ_CACHE_EVENTS }),
  );
}
