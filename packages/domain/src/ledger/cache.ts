import { isDateOnly, isValidTime, startInstant } from '@ptce/events';
import { copyState, newWork, type StateWork, step } from './apply.ts';
import {
  asPlainFact,
  compile,
  emptyCompiled,
  insertionIndex,
  type MutableCompiled,
  movesAnAnnulment,
} from './compile.ts';
import { type Cut, cutAccepts, cutKey } from './cuts.ts';
import { ledgerEvents } from './events.ts';
import { replay } from './replay.ts';
import type {
  CompiledLedger,
  Fact,
  FoldedEvent,
  Ledger,
  LedgerState,
  LoggedEvent,
  LogNode,
} from './types.ts';

/**
 * Stored events come back as fresh strings for every field, so a long history holds thousands of
 * copies of the same PTCE id, type, date and category. The log keeps one of each. Bounded: the
 * table starts again when full, so a stream of unique values costs no more than its size.
 */
const INTERN_LIMIT = 16_384;
/** Enumerated values (categories, kinds, roles…) are snake_case words: worth sharing. */
const ENUM_LIKE = /^[a-z][a-z_]{0,31}$/;
// Each cached cut holds a whole state: a handful covers a request's repeated reads.
const MAX_CACHED_CUTS = 16;

/** The latest compiled version of one log, and the replays made of it. */
interface Compilation {
  compiled: MutableCompiled;
  /**
   * Bumped whenever facts change other than by a push at the end: a replay that applied a prefix
   * of the facts may go on from where it stopped only while the generation is unchanged.
   */
  generation: number;
  /** Returned by `compiled`: copied before a longer ledger's facts are appended to it. */
  shared: boolean;
  final: FinalReplay | undefined;
  cuts: CutReplays | undefined;
}

interface FinalReplay {
  readonly generation: number;
  /** Facts applied so far: the final state goes on from there while facts are only pushed. */
  count: number;
  readonly state: StateWork;
  /** Returned by `state`: copied before the facts of a longer ledger are applied to it. */
  shared: boolean;
}

interface CutReplays {
  readonly generation: number;
  readonly count: number;
  readonly states: Map<string, LedgerState>;
}

const compilationOf = (compiled: MutableCompiled): Compilation => ({
  compiled,
  generation: 0,
  shared: false,
  final: undefined,
  cuts: undefined,
});

/**
 * What the ledgers folded with it have compiled and replayed, and the strings their logs share.
 * Its owner creates one and folds its ledgers from `initialLedger(cache)`: the write side one for
 * all the PTCE it keeps folded, a read service its own. What `compiled` and `state` return never
 * changes, whatever is compiled after (only a writer settling its provisional events gives them
 * their stored position and recording instant, in place); a decider borrows instead.
 *
 * A long history is not compiled again for every event appended to it: the compiled ledger of a
 * log is kept for its latest compiled version only (one per version, as a memo would keep, would
 * retain tens of MB per command) and handed over to the next version compiled, which appends its
 * new facts to it; the final state is kept too, and goes on from where it stopped. What was
 * returned to a caller is copied before it is handed over, so that it stays what it was. A
 * version that has been extended and compiled since falls back to a compile from scratch, kept
 * for its next query only so that it does not outlive its reader.
 */
export class LedgerCache {
  private readonly interned = new Map<string, string>();
  private readonly placed = new Map<string, { readonly start: number; readonly isDate: boolean } | null>();
  private readonly owned = new WeakMap<LogNode, Compilation>();
  /** Nodes whose compilation was handed over to a descendant. */
  private readonly superseded = new WeakSet<LogNode>();
  private stale: { readonly node: LogNode; readonly compilation: Compilation } | null = null;
  private empty: Compilation | undefined;

  /**
   * Where a valid time starts and whether it is a date, or null when it is not one: a long
   * history has thousands of events on the same few thousand days, each parsed once here.
   */
  placeInTime(occurredAt: string): { readonly start: number; readonly isDate: boolean } | null {
    const known = this.placed.get(occurredAt);
    if (known !== undefined) return known;
    const place = isValidTime(occurredAt)
      ? { start: startInstant(occurredAt), isDate: isDateOnly(occurredAt) }
      : null;
    if (this.placed.size >= INTERN_LIMIT) this.placed.clear();
    this.placed.set(occurredAt, place);
    return place;
  }

  intern(value: string): string {
    const known = this.interned.get(value);
    if (known !== undefined) return known;
    if (this.interned.size >= INTERN_LIMIT) this.interned.clear();
    this.interned.set(value, value);
    return value;
  }

  /** Shares the enumerated strings of freshly parsed data, which is ours to change. */
  internData(data: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
    for (const key in data) {
      const value = data[key];
      if (typeof value === 'string' && ENUM_LIKE.test(value)) {
        (data as Record<string, unknown>)[key] = this.intern(value);
      }
    }
    return data;
  }

  /** The compiled facts of the ledger; they never change once returned. */
  compiled(ledger: Ledger): CompiledLedger {
    const c = this.compilation(ledger);
    c.shared = true;
    return c.compiled;
  }

  /** The state of the ledger at `cut`; it never changes once returned. */
  state(ledger: Ledger, cut: Cut): LedgerState {
    return this.replay(ledger, cut, true);
  }

  /**
   * `compiled` for a decider, which reads it during its call and keeps nothing of it: it is not
   * copied before a longer ledger of the same log takes it over, and changes then.
   */
  borrowCompiled(ledger: Ledger): CompiledLedger {
    return this.compilation(ledger).compiled;
  }

  /**
   * Replays the ledger's facts from nothing, calling `visitor` after each with the state it
   * leaves, lent for the call (see `visitFacts`). A visit that goes through every fact has folded
   * the whole history: its state becomes the ledger's final state when none was replayed yet, so
   * that a stage timeline and the reads of the state after it apply each fact once, not twice.
   */
  visit(
    ledger: Ledger,
    visitor: (fact: Fact, state: LedgerState, index: number) => boolean | undefined,
  ): void {
    const c = this.compilation(ledger);
    const { facts, warnings } = c.compiled;
    const work = newWork(warnings);
    for (let i = 0; i < facts.length; i++) {
      const fact = facts[i]!;
      step(work, fact);
      if (visitor(fact, work, i) === false) return;
    }
    if (c.final === undefined || c.final.generation !== c.generation) {
      c.final = { generation: c.generation, count: facts.length, state: work, shared: false };
    }
  }

  /** `state` for a decider, as `borrowCompiled`: it changes once a longer ledger is replayed. */
  borrowState(ledger: Ledger, cut: Cut): LedgerState {
    return this.replay(ledger, cut, false);
  }

  /**
   * Gives what was compiled of the settled events their stored position and recording instant
   * (the log's events themselves are settled by `settleLedger`); `nodes[i]` logs `stored[i]`.
   */
  settle(nodes: readonly LogNode[], stored: readonly FoldedEvent[]): void {
    // The compiled ledger may belong to any of these nodes, not only the last: the last command of
    // the batch was decided on its predecessors' events, and nothing compiled its own since.
    const compiledAt: { compiled: MutableCompiled; upTo: number }[] = [];
    for (let i = stored.length - 1; i >= 0; i--) {
      const node = nodes[i]!;
      const c = this.owned.get(node) ?? (this.stale?.node === node ? this.stale.compilation : undefined);
      if (c) compiledAt.push({ compiled: c.compiled, upTo: i });
    }
    for (const { compiled, upTo } of compiledAt) {
      for (const event of stored.slice(0, upTo + 1)) {
        const fact = compiled.factsById.get(event.eventId);
        if (fact) Object.assign(fact as Settling, { position: event.position, recordedAt: event.recordedAt });
      }
      compiled.lastPosition = stored[upTo]!.position;
    }
  }

  private compilation(ledger: Ledger): Compilation {
    const node = ledger.last;
    if (!node) {
      this.empty ??= compilationOf(emptyCompiled());
      return this.empty;
    }
    const own = this.owned.get(node);
    if (own) return own;
    if (this.stale?.node === node) return this.stale.compilation;

    // Walk back to the nearest compiled ancestor; the nodes in between are appended to it.
    const pending: LogNode[] = [];
    let at: LogNode | null = node;
    let base: Compilation | undefined;
    for (; at; at = at.prev) {
      if (this.superseded.has(at)) break;
      base = this.owned.get(at);
      if (base) break;
      pending.push(at);
    }
    if (at && !base) {
      const compilation = compilationOf(compile(ledgerEvents(ledger)));
      this.stale = { node, compilation };
      return compilation;
    }
    let compilation: Compilation;
    if (at && base) {
      this.owned.delete(at);
      this.superseded.add(at);
      compilation = base.shared ? { ...base, compiled: copyCompiled(base.compiled), shared: false } : base;
      for (let i = pending.length - 1; i >= 0; i--) {
        if (!appendFact(compilation, pending[i]!.event)) {
          compilation = compilationOf(compile(ledgerEvents(ledger)));
          break;
        }
      }
    } else {
      compilation = compilationOf(compile(pending.reverse().map((n) => n.event)));
    }
    this.owned.set(node, compilation);
    return compilation;
  }

  private replay(ledger: Ledger, cut: Cut, share: boolean): LedgerState {
    const c = this.compilation(ledger);
    const { facts } = c.compiled;
    const last = facts[facts.length - 1];
    if (cut.kind === 'all' || !last || cutAccepts(cut)(last)) return finalState(c, share);
    let cache = c.cuts;
    if (!cache || cache.generation !== c.generation || cache.count !== facts.length) {
      cache = { generation: c.generation, count: facts.length, states: new Map() };
      c.cuts = cache;
    }
    const key = cutKey(cut);
    const hit = cache.states.get(key);
    if (hit) {
      cache.states.delete(key);
      cache.states.set(key, hit);
      return hit;
    }
    // A state replayed up to a cut is never applied to again: shared or not, it stays as it is.
    const state = replay(c.compiled, cut);
    if (cache.states.size >= MAX_CACHED_CUTS) {
      const oldest = cache.states.keys().next().value;
      if (oldest !== undefined) cache.states.delete(oldest);
    }
    cache.states.set(key, state);
    return state;
  }
}

type Settling = { -readonly [K in 'position' | 'recordedAt']: FoldedEvent[K] };

/**
 * A cut that takes every fact (the common case: a new fact later than all others) is the final
 * state, kept up to date as facts are pushed.
 */
function finalState(c: Compilation, share: boolean): StateWork {
  const { facts, warnings } = c.compiled;
  let f = c.final;
  if (!f || f.generation !== c.generation || f.count > facts.length) {
    f = { generation: c.generation, count: 0, state: newWork(warnings), shared: false };
    c.final = f;
  } else if (f.shared && f.count < facts.length) {
    f = { generation: f.generation, count: f.count, state: copyState(f.state), shared: false };
    c.final = f;
  }
  for (; f.count < facts.length; f.count++) step(f.state, facts[f.count]!);
  if (share) f.shared = true;
  return f.state;
}

/**
 * The common case, a new valid-time fact appended to a compiled log, needs no recompilation:
 * the fact is inserted at its place (pushed when it is the latest). Anything else (a correction,
 * a retraction, an invalid or duplicate event) returns false: the caller recompiles the log.
 */
function appendFact(c: Compilation, event: LoggedEvent): boolean {
  const compiled = c.compiled;
  if (compiled.known.has(event.eventId)) return false;
  const fact = asPlainFact(event);
  if (!fact) return false;
  // Only compiling the log again places the annulment this decision moves.
  if (movesAnAnnulment(compiled.facts, fact)) return false;
  const at = insertionIndex(compiled.facts, fact);
  if (at === compiled.facts.length) compiled.facts.push(fact);
  else {
    compiled.facts.splice(at, 0, fact);
    c.generation++;
  }
  compiled.known.set(event.eventId, event);
  compiled.factsById.set(event.eventId, fact);
  compiled.ptceId ??= event.ptceId;
  compiled.lastPosition = event.position;
  return true;
}

/** What appending facts changes of a compiled ledger, copied; the facts themselves are shared. */
function copyCompiled(c: MutableCompiled): MutableCompiled {
  return {
    ptceId: c.ptceId,
    facts: c.facts.slice(),
    factsById: new Map(c.factsById),
    known: new Map(c.known),
    retractions: c.retractions,
    erased: c.erased,
    warnings: c.warnings,
    lastPosition: c.lastPosition,
  };
}
