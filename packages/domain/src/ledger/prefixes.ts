import { endInstant, parisDay, TRANSACTION_TIME_TYPES, type ValidTime } from '@ptce/events';
import { newWork, step, type Work } from './apply.ts';
import { compile } from './compile.ts';
import { compareFacts } from './cuts.ts';
import { type ForkableState, forkState } from './fork.ts';
import type {
  CompiledLedger,
  Fact,
  Ledger,
  LedgerState,
  LedgerWarning,
  LoggedEvent,
  LogNode,
} from './types.ts';

/**
 * What a projection follows of a replay in valid time, for `LogPrefixes` to keep at checkpoints
 * and resume from. The value is the projection's own; it is copied at each checkpoint.
 */
export interface PrefixReader<T> {
  start(): T;
  copy(value: T): T;
  /** Called after `fact` is applied. */
  fact(value: T, fact: Fact): void;
  /**
   * Called at the end of each Paris day on which facts took effect, with the state then; its
   * warnings are not to be read (the compile warnings, a prefix's own, may be left out).
   */
  dayEnd(value: T, state: LedgerState, day: string): void;
  /**
   * What the reader depends on of a fact, as a key: two versions of one fact placed alike in valid
   * time with equal keys must lead to states the reader cannot tell apart, warnings included. Null
   * when, once applied, the fact changes nothing the reader reads, and neither `fact` nor the
   * `dayEnd` of a day holding only such facts changes its value.
   */
  reads(fact: Fact): string | null;
}

/*
 * Facts that, once the PTCE is registered, always apply and add only themselves to the state (no
 * check can skip them, nothing else reads them): present or not, a reader that reads nothing of
 * them sees the same states.
 */
const APPLIED_ONCE_REGISTERED: ReadonlySet<string> = new Set(['RecognitionGranted']);
/** Sorts after every Paris day. */
const NO_DAY = '\uffff';
// Checkpoints hold a copy of the state each: a few dozen bound the memory, and a query then
// replays a small part of the history before its prefix's own facts.
const MAX_CHECKPOINTS = 48;
const MIN_CHECKPOINT_FACTS = 1_000;
// A prefix costs a compile of the log's corrections, retractions and what they name: a few are
// kept for the queries that repeat a knownAt.
const PREFIXES_KEPT = 8;
const READERS_KEPT = 4;

/** What a prefix of the log has of its own, against the whole log's compiled facts. */
interface Prefix {
  readonly size: number;
  /** Its compile warnings. */
  readonly warnings: readonly LedgerWarning[];
  /** Events whose fact in the prefix may differ from the whole log's: corrected or retracted later, or placed by another fact. */
  readonly touched: ReadonlySet<string>;
  /** The prefix's facts of the touched events, in valid-time order. */
  readonly touchedFacts: readonly Fact[];
  readonly touchedById: ReadonlyMap<string, Fact>;
  /** The start of its earliest registration fact, or null when it has none. */
  readonly registeredFrom: number | null;
}

interface Checkpoint<T> {
  /** Index, in the whole log's compiled facts, of the first fact not applied: the first of its day. */
  readonly index: number;
  readonly day: string;
  /**
   * The state of the facts before `index`, without compile warnings (a prefix has its own): a
   * fork of the checkpoint before it, never applied to again.
   */
  readonly state: ForkableState;
  readonly value: T;
}

interface Checkpoints<T> {
  readonly reader: PrefixReader<T>;
  readonly list: readonly Checkpoint<T>[];
  /** By prefix size: the earliest day of the facts of the later events a reader cannot do without. */
  readonly laterDay: readonly string[];
  /** By prefix size: the earliest start, and its day, of the later events' facts it may do without. */
  readonly laterOnceStart: Float64Array;
  readonly laterOnceDay: readonly string[];
  readonly reads: WeakMap<Fact, string | null>;
}

/**
 * Every prefix of one folded log (every `knownAt` or `atPosition` of it) over the compiled facts of
 * the whole log, so that a query at any transaction time and valid time replays a short stretch
 * of history instead of compiling and replaying all of it.
 *
 * A prefix's facts are the whole log's facts of its events, except the few events a later
 * correction or retraction names (and retroactive annulments, placed by their decision): those are
 * compiled again, with the corrections and retractions the prefix holds, which also gives the
 * prefix's compile warnings. A replay of the whole log's facts keeps checkpoints (the state and the
 * reader's value at the start of a day); a prefix resumes from the latest checkpoint before the
 * first day where its facts and the whole log's differ in anything the reader reads.
 *
 * Built for one ledger, which it never changes; its owner keeps it while that ledger is its log.
 */
export class LogPrefixes {
  readonly ledger: Ledger;
  private readonly nodes: LogNode[];
  /** By log index: the latest recording instant of the events up to it (ms). */
  private readonly recordedUpTo: Float64Array;
  private readonly compiled: CompiledLedger;
  /** By index of the compiled facts: the Paris day it takes effect. */
  private readonly days: string[];
  /** The events a prefix compiles again, in log order (see `prefix`). */
  private readonly special: LoggedEvent[];
  /** Corrections and retractions (whatever their validity), in log order, with the event they name. */
  private readonly amendments: { readonly logIndex: number; readonly target: string }[];
  /** Amendment event id → the event it names. */
  private readonly amends = new Map<string, string[]>();
  private readonly annulments: LoggedEvent[];
  private readonly registrations: Fact[];
  private readonly prefixes = new Map<number, Prefix>();
  private readonly readers = new Map<object, Checkpoints<unknown>>();
  private readonly dayOfTime = new Map<string, string>();

  private readonly checkpointFacts: number;

  /** `checkpointFacts`: the fewest facts between two checkpoints (by default a 32nd of them, at least 1,000). */
  constructor(ledger: Ledger, options: { readonly checkpointFacts?: number } = {}) {
    this.ledger = ledger;
    const size = ledger.size;
    this.nodes = new Array(size);
    for (let n = ledger.last, i = size - 1; n; n = n.prev, i--) this.nodes[i] = n;
    this.recordedUpTo = new Float64Array(size);
    let latest = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < size; i++) {
      const at = Date.parse(this.nodes[i]!.event.recordedAt);
      if (at > latest) latest = at;
      this.recordedUpTo[i] = latest;
    }
    this.compiled = ledger.cache.compiled(ledger);
    const { facts } = this.compiled;
    this.checkpointFacts =
      options.checkpointFacts ?? Math.max(MIN_CHECKPOINT_FACTS, Math.ceil(facts.length / MAX_CHECKPOINTS));
    this.days = new Array(facts.length);
    let lastAt = '';
    let lastDay = '';
    for (let i = 0; i < facts.length; i++) {
      const fact = facts[i]!;
      if (fact.occurredAt !== lastAt) {
        lastAt = fact.occurredAt;
        lastDay = parisDay(lastAt);
      }
      this.days[i] = lastDay;
    }
    this.registrations = facts.filter((f) => f.type === 'PtceRegistered');

    const seen = new Map<string, number>();
    const named = new Set<string>();
    const annulled = new Set<string>();
    this.amendments = [];
    this.annulments = [];
    for (const node of this.nodes) {
      const e = node.event;
      seen.set(e.eventId, (seen.get(e.eventId) ?? 0) + 1);
      if (TRANSACTION_TIME_TYPES.has(e.type as never)) {
        const data = e.data as { correctsEventId?: unknown; retractedEventId?: unknown } | null;
        const target = data?.correctsEventId ?? data?.retractedEventId;
        if (typeof target === 'string') {
          named.add(target);
          this.amendments.push({ logIndex: e.logIndex, target });
          const targets = this.amends.get(e.eventId);
          if (targets) targets.push(target);
          else this.amends.set(e.eventId, [target]);
        }
      } else if (!e.invalid && e.type === 'DecisionAnnulled') {
        const data = e.data as { decisionId?: unknown; retroactive?: unknown };
        if (data.retroactive === true && typeof data.decisionId === 'string') {
          this.annulments.push(e);
          annulled.add(data.decisionId);
        }
      }
    }
    // What compiling a prefix reads besides plain facts: every event that can raise a compile
    // warning, be corrected or retracted, or place an annulment; the rest is the whole log's.
    this.special = [];
    const annulments = new Set(this.annulments);
    for (const node of this.nodes) {
      const e = node.event;
      const decision =
        e.type === 'DecisionRecorded' ? (e.data as { decisionId?: unknown }).decisionId : undefined;
      if (
        e.invalid ||
        TRANSACTION_TIME_TYPES.has(e.type as never) ||
        (seen.get(e.eventId) ?? 0) > 1 ||
        named.has(e.eventId) ||
        annulments.has(e) ||
        (typeof decision === 'string' && annulled.has(decision))
      ) {
        this.special.push(e);
      }
    }
  }

  get size(): number {
    return this.ledger.size;
  }

  /** The size of the longest prefix whose events were all recorded at or before `at` (ms). */
  knownAt(at: number): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.recordedUpTo[mid]! > at) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  /** The ledger of the first `size` events of the log: an earlier node of its list. */
  ledgerOf(size: number): Ledger {
    if (size >= this.size) return this.ledger;
    return { size, last: size > 0 ? this.nodes[size - 1]! : null, cache: this.ledger.cache };
  }

  /** Whether the prefix holds a registration fact: its final state is registered. */
  registered(size: number): boolean {
    return this.prefix(size).registeredFrom !== null;
  }

  /**
   * Replays the facts of the first `size` events of the log in valid time, for `reader`, up to the
   * end of the Paris day of `at`; `onAt` is lent the state at `at` (every fact taking effect by
   * then applied, the prefix's compile warnings first) during the call. Returns the reader's value
   * at the end of that day. `key` names the reader: its checkpoints are kept under it.
   */
  replayTo<T>(
    size: number,
    at: ValidTime,
    key: object,
    reader: PrefixReader<T>,
    onAt: (state: LedgerState) => void,
  ): T {
    const cps = this.checkpoints(key, reader);
    const p = this.prefix(size);
    const day = parisDay(at);
    const end = endInstant(at);
    const diverges = this.divergence(cps, p);
    let limit = day;
    if (diverges < limit) limit = diverges;
    let lo = 0;
    let hi = cps.list.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (cps.list[mid]!.day <= limit) lo = mid;
      else hi = mid - 1;
    }
    const cp = cps.list[lo]!;
    const value = cps.reader.copy(cp.value);
    // The checkpoint's state is shared: applied to through copy-on-write maps.
    const state = forkState(cp.state, [...p.warnings, ...cp.state.warnings]);
    const { facts } = this.compiled;
    const mine = p.touchedFacts;
    let i = cp.index;
    let j = 0;
    // The prefix's versions of facts placed before the checkpoint are the whole log's as far as the
    // reader can tell (else the prefix would diverge earlier): the checkpoint applied those.
    const boundary = cp.index > 0 ? facts[cp.index - 1] : undefined;
    while (boundary && j < mine.length && compareFacts(mine[j]!, boundary) <= 0) j++;
    let reached = false;
    let previousDay: string | null = null;
    for (;;) {
      while (i < facts.length && (facts[i]!.logIndex >= size || p.touched.has(facts[i]!.eventId))) i++;
      const full = facts[i];
      const own = mine[j];
      let fact: Fact;
      let factDay: string;
      if (full && (!own || compareFacts(full, own) < 0)) {
        fact = full;
        factDay = this.days[i]!;
        i++;
      } else if (own) {
        fact = own;
        factDay = this.dayOf(own);
        j++;
      } else break;
      if (factDay > day) break;
      if (previousDay !== null && factDay !== previousDay) cps.reader.dayEnd(value, state, previousDay);
      if (!reached && fact.start > end) {
        onAt(state);
        reached = true;
      }
      step(state, fact);
      cps.reader.fact(value, fact);
      previousDay = factDay;
    }
    if (previousDay !== null) cps.reader.dayEnd(value, state, previousDay);
    if (!reached) onAt(state);
    return value;
  }

  private dayOf(fact: Fact): string {
    let day = this.dayOfTime.get(fact.occurredAt);
    if (day === undefined) {
      day = parisDay(fact.occurredAt);
      this.dayOfTime.set(fact.occurredAt, day);
    }
    return day;
  }

  /**
   * The prefix's own part. Its facts are the whole log's facts of its events, but for the touched
   * events; those, and its compile warnings, come from compiling the special events it holds:
   * every event that a compile warns about, that a correction or retraction names or that places
   * a retroactive annulment, with the corrections and retractions themselves — all a compile of
   * the whole prefix reads to warn and to amend, in the same order.
   */
  private prefix(size: number): Prefix {
    const kept = this.prefixes.get(size);
    if (kept) {
      this.prefixes.delete(size);
      this.prefixes.set(size, kept);
      return kept;
    }
    let n = 0;
    while (n < this.special.length && this.special[n]!.logIndex < size) n++;
    const sub = compile(this.special.slice(0, n));
    const touched = new Set<string>();
    // A later retraction of a correction takes the correction back: what it corrected is touched too.
    const touch = (id: string) => {
      if (touched.has(id)) return;
      touched.add(id);
      for (const target of this.amends.get(id) ?? []) touch(target);
    };
    for (let a = this.amendments.length - 1; a >= 0 && this.amendments[a]!.logIndex >= size; a--) {
      touch(this.amendments[a]!.target);
    }
    for (const annulment of this.annulments) {
      if (annulment.logIndex >= size) break;
      touched.add(annulment.eventId);
    }
    const touchedFacts = sub.facts.filter((f) => touched.has(f.eventId));
    let registeredFrom: number | null = null;
    const register = (f: Fact) => {
      if (registeredFrom === null || f.start < registeredFrom) registeredFrom = f.start;
    };
    for (const f of this.registrations) if (f.logIndex < size && !touched.has(f.eventId)) register(f);
    for (const f of touchedFacts) if (f.type === 'PtceRegistered') register(f);
    const prefix: Prefix = {
      size,
      warnings: sub.warnings,
      touched,
      touchedFacts,
      touchedById: new Map(touchedFacts.map((f) => [f.eventId, f])),
      registeredFrom,
    };
    if (this.prefixes.size >= PREFIXES_KEPT) this.prefixes.delete(this.prefixes.keys().next().value!);
    this.prefixes.set(size, prefix);
    return prefix;
  }

  /** The first day on which the prefix's facts and the whole log's differ in what the reader reads. */
  private divergence<T>(cps: Checkpoints<T>, p: Prefix): string {
    const wholeFrom = this.registrations.length ? this.registrations[0]!.start : null;
    const registeredBefore = (start: number) =>
      wholeFrom !== null && p.registeredFrom !== null && start > wholeFrom && start > p.registeredFrom;
    const reads = (f: Fact) => {
      let key = cps.reads.get(f);
      if (key === undefined) {
        key = cps.reader.reads(f);
        cps.reads.set(f, key);
      }
      return key;
    };
    const ignorable = (f: Fact) =>
      APPLIED_ONCE_REGISTERED.has(f.type) && reads(f) === null && registeredBefore(f.start);
    let day = cps.laterDay[p.size] ?? NO_DAY;
    const onceStart = cps.laterOnceStart[p.size]!;
    if (onceStart !== Number.POSITIVE_INFINITY && !registeredBefore(onceStart)) {
      const onceDay = cps.laterOnceDay[p.size]!;
      if (onceDay < day) day = onceDay;
    }
    const earlier = (f: Fact) => {
      const d = this.dayOf(f);
      if (d < day) day = d;
    };
    for (const id of p.touched) {
      const whole = this.compiled.factsById.get(id);
      const full = whole && whole.logIndex < p.size ? whole : undefined;
      const own = p.touchedById.get(id);
      if (full && own) {
        const alike =
          full === own ||
          (full.type === own.type &&
            full.occurredAt === own.occurredAt &&
            full.start === own.start &&
            full.isDate === own.isDate &&
            full.logIndex === own.logIndex &&
            reads(full) === reads(own));
        if (!alike) {
          earlier(full);
          earlier(own);
        }
      } else {
        const only = full ?? own;
        if (only && !ignorable(only)) earlier(only);
      }
    }
    return day;
  }

  private checkpoints<T>(key: object, reader: PrefixReader<T>): Checkpoints<T> {
    const kept = this.readers.get(key) as Checkpoints<T> | undefined;
    if (kept) return kept;
    const { facts } = this.compiled;
    const size = this.size;
    const reads = new WeakMap<Fact, string | null>();
    const laterDay: string[] = new Array(size + 1).fill(NO_DAY);
    const laterOnceStart = new Float64Array(size + 1).fill(Number.POSITIVE_INFINITY);
    const laterOnceDay: string[] = new Array(size + 1).fill(NO_DAY);
    for (let i = 0; i < facts.length; i++) {
      const f = facts[i]!;
      const key = reader.reads(f);
      reads.set(f, key);
      if (APPLIED_ONCE_REGISTERED.has(f.type) && key === null) {
        laterOnceStart[f.logIndex] = f.start;
        laterOnceDay[f.logIndex] = this.days[i]!;
      } else laterDay[f.logIndex] = this.days[i]!;
    }
    for (let k = size - 1; k >= 0; k--) {
      if (laterDay[k + 1]! < laterDay[k]!) laterDay[k] = laterDay[k + 1]!;
      if (laterOnceStart[k + 1]! < laterOnceStart[k]!) {
        laterOnceStart[k] = laterOnceStart[k + 1]!;
        laterOnceDay[k] = laterOnceDay[k + 1]!;
      }
    }

    const spacing = this.checkpointFacts;
    // Each checkpoint is the replay's state as it stood, the replay going on in a fork of it: a
    // checkpoint holds its own copy of what changed since the one before, not of the whole state.
    let w: Work & ForkableState = newWork([]);
    const value = reader.start();
    const list: Checkpoint<T>[] = [{ index: 0, day: '', state: w, value: reader.copy(value) }];
    w = forkState(w, []);
    let last = 0;
    let previousDay: string | null = null;
    for (let i = 0; i < facts.length; i++) {
      const day = this.days[i]!;
      if (previousDay !== null && day !== previousDay) {
        reader.dayEnd(value, w, previousDay);
        if (i - last >= spacing) {
          list.push({ index: i, day, state: w, value: reader.copy(value) });
          w = forkState(w, [...w.warnings]);
          last = i;
        }
      }
      step(w, facts[i]!);
      reader.fact(value, facts[i]!);
      previousDay = day;
    }
    const cps: Checkpoints<T> = { reader, list, laterDay, laterOnceStart, laterOnceDay, reads };
    if (this.readers.size >= READERS_KEPT) this.readers.delete(this.readers.keys().next().value!);
    this.readers.set(key, cps as Checkpoints<unknown>);
    return cps;
  }
}
