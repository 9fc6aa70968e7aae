export * from './decisions/decider.ts';
export * from './decisions/outcome.ts';
export * from './ledger/index.ts';
export * from './membership/decider.ts';
export * from './shared/decider.ts';
export * from './shared/guards.ts';
export { DomainError, REFUSALS, type RefusalCode, type RefusalStatus, refuse } from './shared/refusals.ts';
export * from './working-groups/decider.ts';

import type { DecisionsCommand } from './decisions/decider.ts';
import type { MembershipCommand } from './membership/decider.ts';
import type { WorkingGroupsCommand } from './working-groups/decider.ts';

export type Command = MembershipCommand | WorkingGroupsCommand | DecisionsCommand;
