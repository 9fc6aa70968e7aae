export {
  type EligibilityBody,
  eligibilityAnswer,
  eligibilityBody,
  type LegalTransitionBody,
  type ListEntry,
  legalTransitionAnswer,
  legalTransitionBody,
  listAnswer,
  type ParticipationBody,
  participationAnswer,
  participationBody,
  readAt,
  revealState,
  type SealedStateBody,
  type StageBody,
  type StateBody,
  stageAnswer,
  stageBody,
  stageBodyOnPrefix,
  stateAnswer,
  stateBody,
  type TimelineBody,
  timelineAnswer,
  timelineBody,
} from './answers.ts';
export {
  type AuditedEvent,
  auditedEventLines,
  auditedEventSchema,
  auditedEvents,
  replayBody,
} from './audit-answers.ts';
export {
  type ChainBreak,
  type ChainHead,
  type CheckpointEvidence,
  type CheckpointMismatch,
  type EventFilter,
  type PtceChains,
  ptceEvents,
  ptceEventTextRuns,
  verifyPtceChains,
} from './audit-log.ts';
export {
  CHECKPOINT_KIND,
  ChainCheckpoints,
  type ChainCheckpointsOptions,
  type Checkpoint,
  checkpointSignatureProblem,
  headsAt,
  type SignedCheckpoint,
  sharedChainCheckpoints,
} from './checkpoints.ts';
export {
  loadStageRules,
  PROJECTOR_LEASE_MS,
  projectorLockKey,
  readModelsPrefix,
} from './configuration.ts';
export { type FencedTransaction, type ProjectorLock, RedisProjectorLock } from './lock.ts';
export { Projector, type ProjectorLogger, type ProjectorOptions, type ProjectorStatus } from './projector.ts';
export {
  cutLedger,
  PtceLedgers,
  type PtceLedgersOptions,
  type PtceLog,
  sharedPtceLedgers,
} from './ptce-ledgers.ts';
export { cutLog, knownAtCut, type LoadedLedger, type LogCut, loadLedger, readPtceLog } from './ptce-log.ts';
export {
  listEntryOf,
  MemoryReadModels,
  type ModelledPtce,
  type ModelRead,
  modelOf,
  type PtceReadModel,
  type ReadModelStore,
  RedisReadModels,
} from './read-models.ts';
export {
  LockLostError,
  type RebuildOptions,
  type RebuildProgress,
  type RebuildSummary,
  rebuildReadModels,
  registeredPtceIds,
} from './rebuild.ts';
