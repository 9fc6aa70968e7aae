import type { Category, LegalStatus } from '@ptce/events';
import type { MemberState } from '../ledger/types.ts';

/**
 * The legal status the read side gives a member: the one recorded for it when there is one;
 * otherwise the usual status of its category — local authorities are public persons, ESS and other
 * enterprises private ones — and `unknown` for every other category, whose members may be either
 * (a research body, a training body, an association…). The ledger stores only what was given.
 */
export function legalStatusOf(
  member: Pick<MemberState, 'category' | 'legalStatus'>,
): LegalStatus | 'unknown' {
  return member.legalStatus ?? DEFAULT_LEGAL_STATUS[member.category] ?? 'unknown';
}

const DEFAULT_LEGAL_STATUS: Partial<Record<Category, LegalStatus>> = {
  local_authority: 'public',
  ess_enterprise: 'private',
  enterprise: 'private',
};
