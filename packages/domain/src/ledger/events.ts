import type { Ledger, LoggedEvent } from './types.ts';

/**
 * The ledger's events in log order. In a file of its own: the log and the cache both walk a
 * ledger this way, and the log already depends on the cache.
 */
export function ledgerEvents(ledger: Ledger): LoggedEvent[] {
  const out: LoggedEvent[] = new Array(ledger.size);
  let i = ledger.size - 1;
  for (let n = ledger.last; n; n = n.prev) out[i--] = n.event;
  return out;
}
