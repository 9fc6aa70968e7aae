import {
  copyActivity,
  copyDecision,
  copyPeriods,
  copySpace,
  type StateWork,
  step,
  type Table,
  type Work,
} from './apply.ts';
import { compile, pendingFacts, withFacts } from './compile.ts';
import { ALL, compareFacts } from './cuts.ts';
import { ledgerEvents, logged } from './log.ts';
import { replay, replayFacts } from './replay.ts';
import type { FoldedEvent, Ledger, LedgerWarning } from './types.ts';

const DELETED = Symbol('deleted');

/** A copy-on-write view of a map: entries are copied when read, so `apply` can mutate them. */
class ForkTable<K, V> implements Table<K, V> {
  private readonly over = new Map<K, V | typeof DELETED>();
  constructor(
    private readonly base: ReadonlyMap<K, V>,
    private readonly copy: (v: V) => V,
  ) {}
  get(key: K): V | undefined {
    const o = this.over.get(key);
    if (o !== undefined) return o === DELETED ? undefined : o;
    const b = this.base.get(key);
    if (b === undefined) return undefined;
    const c = this.copy(b);
    this.over.set(key, c);
    return c;
  }
  has(key: K): boolean {
    const o = this.over.get(key);
    return o !== undefined ? o !== DELETED : this.base.has(key);
  }
  set(key: K, value: V): void {
    this.over.set(key, value);
  }
  delete(key: K): boolean {
    const had = this.has(key);
    this.over.set(key, DELETED);
    return had;
  }
  *values(): Iterable<V> {
    for (const v of this.over.values()) if (v !== DELETED) yield v;
    for (const [k, v] of this.base) if (!this.over.has(k)) yield v;
  }
}

const same = <V>(v: V): V => v;

/** The final state seen through copy-on-write tables: applying facts to it leaves `s` untouched. */
function fork(s: StateWork): Work {
  return {
    registration: s.registration,
    pilotId: s.pilotId,
    members: new ForkTable(s.members, same),
    periods: new ForkTable(s.periods, copyPeriods),
    spaces: new ForkTable(s.spaces, copySpace),
    meetings: new ForkTable(s.meetings, same),
    activities: new ForkTable(s.activities, copyActivity),
    legalEntity: s.legalEntity,
    associates: new ForkTable(s.associates, same),
    decisions: new ForkTable(s.decisions, copyDecision),
    // Only what the new facts add is read from a fork.
    recognitions: [],
    warnings: [],
  };
}

const warningKey = (w: LedgerWarning) => `${w.eventId}|${w.code}`;

function offendersOf(w: LedgerWarning): readonly unknown[] {
  const offenders = w.details?.offenders;
  return Array.isArray(offenders) ? offenders : [];
}

/**
 * The warnings of `after` that `before` did not already raise. A fact already flagged stays
 * flagged under the same code; but a meeting, decision or activity kept with a list of offenders
 * is a new contradiction when the list gains one, so the offenders are compared too.
 */
export function newWarnings(
  before: readonly LedgerWarning[],
  after: readonly LedgerWarning[],
): LedgerWarning[] {
  const raised = new Map<string, LedgerWarning[]>();
  for (const w of before) {
    const key = warningKey(w);
    raised.set(key, [...(raised.get(key) ?? []), w]);
  }
  return after.filter((w) => {
    const earlier = raised.get(warningKey(w));
    if (!earlier) return true;
    const offenders = offendersOf(w);
    return !earlier.some((e) => offenders.every((o) => offendersOf(e).includes(o)));
  });
}

/**
 * The warnings the replay of every fact would gain if `envelopes` were appended to the log: what
 * they would make the fold skip or flag that it did not before. New facts later than every fact
 * are applied to a copy-on-write view of the final state; anything else (a backdated fact, a
 * correction, a retraction) replays the whole ledger. Nothing is compiled or kept for the log
 * with them: they are not in it.
 */
export function warningsIfAppended(ledger: Ledger, envelopes: readonly FoldedEvent[]): LedgerWarning[] {
  const compiled = ledger.cache.borrowCompiled(ledger);
  // The final state is a replay's own: plain tables a fork can read through.
  const final = ledger.cache.borrowState(ledger, ALL) as StateWork;
  const pending = envelopes.map((e, i) => logged(e, ledger.size + i, ledger.cache));
  const extra = pendingFacts(compiled, pending);
  const last = compiled.facts[compiled.facts.length - 1];
  if (extra && (!last || extra.every((f) => compareFacts(last, f) < 0))) {
    // Their ids are new to the log, so nothing they raise was raised before.
    const w = fork(final);
    for (const f of [...extra].sort(compareFacts)) step(w, f);
    return w.warnings;
  }
  const after = extra
    ? replayFacts(withFacts(compiled.facts, extra), compiled.warnings, ALL)
    : replay(compile([...ledgerEvents(ledger), ...pending]), ALL);
  return newWarnings(final.warnings, after.warnings);
}
