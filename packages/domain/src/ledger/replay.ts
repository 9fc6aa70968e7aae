import { newWork, type StateWork, step } from './apply.ts';
import { ALL, type Cut, cutAccepts } from './cuts.ts';
import type { CompiledLedger, Fact, Ledger, LedgerState, LedgerWarning } from './types.ts';

/**
 * Replays the ledger's facts in valid time up to `cut`, through its cache. The result never
 * changes: a longer ledger of the same log compiled since has states of its own.
 */
export function replayLedger(ledger: Ledger, cut: Cut = ALL): LedgerState {
  return ledger.cache.state(ledger, cut);
}

/** The state once every fact is applied, whatever its valid time. */
export function ledgerFinal(ledger: Ledger): LedgerState {
  return ledger.cache.state(ledger, ALL);
}

/** Replays `facts` (in valid-time order) from nothing up to `cut`. */
export function replayFacts(facts: readonly Fact[], warnings: readonly LedgerWarning[], cut: Cut): StateWork {
  const w = newWork(warnings);
  const accepts = cutAccepts(cut);
  for (const fact of facts) {
    if (!accepts(fact)) break;
    step(w, fact);
  }
  return w;
}

/** The compiled ledger's state at `cut`, replayed from nothing: no cache read or kept. */
export function replay(compiled: CompiledLedger, cut: Cut): LedgerState {
  return replayFacts(compiled.facts, compiled.warnings, cut);
}

/**
 * Replays the ledger's facts one at a time, in valid-time order, from nothing: `visit` is called
 * after each fact with the state it leaves (the state of every fact up to and including it, as a
 * fold of those facts alone would give), until it returns false. The state is lent for the call
 * only: it changes with the next fact, so a visitor keeps what it computes of it, never the state.
 * Nothing is parsed, copied or cached: what a stage timeline needs to look at every day of a
 * long history without folding it again.
 */
export function visitFacts(
  ledger: Ledger,
  visit: (fact: Fact, state: LedgerState, index: number) => boolean | undefined,
): void {
  ledger.cache.visit(ledger, visit);
}
