export { type DecisionsCommand, decideDecisions } from './decisions/decider.ts';
export { deriveOutcome } from './decisions/outcome.ts';
export { LedgerCache } from './ledger/cache.ts';
export { compileLedger } from './ledger/compile.ts';
export type { Cut } from './ledger/cuts.ts';
export { coversAt, enrolmentPeriodsOf, rulesInForce, wasEnrolledAt } from './ledger/history.ts';
export { evolveLedger, foldLedger, initialLedger, settleLedger } from './ledger/log.ts';
export { LogPrefixes, type PrefixReader } from './ledger/prefixes.ts';
export { ledgerFinal, replayLedger, visitFacts } from './ledger/replay.ts';
export type {
  ActivityState,
  AssociateState,
  CompiledLedger,
  DecisionState,
  EnrolmentPeriod,
  EnrolmentState,
  Fact,
  FoldedEvent,
  Ledger,
  LedgerState,
  LedgerWarning,
  LegalEntityState,
  LogNode,
  MeetingState,
  MemberName,
  MemberState,
  RecognitionState,
  SpaceRulesPeriod,
  SpaceState,
} from './ledger/types.ts';
export { decideMembership, type MembershipCommand } from './membership/decider.ts';
export { legalStatusOf } from './membership/legal-status.ts';
export { isErased, recordedCategoryOf } from './membership/personal-data.ts';
export type { DecideContext, EventToAppend } from './shared/decider.ts';
export { enrolledOf } from './shared/guards.ts';
export { DomainError, REFUSALS, type RefusalCode, type RefusalStatus, refuse } from './shared/refusals.ts';
export { decideWorkingGroups, type WorkingGroupsCommand } from './working-groups/decider.ts';
