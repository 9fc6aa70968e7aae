import type { Category } from '@ptce/events';
import type { Fact, Ledger } from '../ledger/types.ts';
import { compiledOf, finalState } from '../shared/decider.ts';

/**
 * An organisation's category as the log now tells it: that of its latest join (the registration
 * for the founding pilot), corrections included. Undefined when it never joined.
 */
export function recordedCategoryOf(ledger: Ledger, organisationId: string): Category | undefined {
  const period = finalState(ledger).periods.get(organisationId)?.at(-1);
  if (!period) return undefined;
  const join = compiledOf(ledger).factsById.get(period.joinEventId) as Fact | undefined;
  if (!join) return undefined;
  if (join.type === 'MemberJoined') return join.data.category;
  if (join.type === 'PtceRegistered' && join.data.pilot.organisationId === organisationId) {
    return join.data.pilot.category;
  }
  return undefined;
}

/** Whether the organisation's personal data was erased: its data key is gone for good. */
export function isErased(ledger: Ledger, organisationId: string): boolean {
  return compiledOf(ledger).erased.has(organisationId);
}
