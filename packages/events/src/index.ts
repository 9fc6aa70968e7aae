export { canonicalJson } from './canonical-json.ts';
export { decisionCorrectedSchema, decisionRecordedSchema } from './catalog/decisions.ts';
export {
  associateAdmittedSchema,
  memberJoinedSchema,
  ptceRegisteredSchema,
  recognitionGrantedSchema,
} from './catalog/membership.ts';
export {
  isSealedText,
  PERSONAL_FIELDS,
  type PersonalFields,
  personalSubject,
  type SealedText,
  sealedTextSchema,
} from './catalog/personal.ts';
export {
  type CatalogEntry,
  type EventCatalog,
  type EventData,
  type EventType,
  eventCatalog,
  isEventType,
  type LedgerEvent,
  type LedgerEventOf,
  type ParsableEvent,
  parseEvent,
  ptceStreams,
  type StreamFamily,
  streamName,
  TRANSACTION_TIME_TYPES,
  type Upcaster,
} from './catalog/registry.ts';
export {
  type Category,
  type ConsensusVote,
  categorySchema,
  DEFAULT_SPACE_RULES,
  type DecisionKind,
  type DecisionSubject,
  type EvidenceData,
  evidenceSchema,
  type LegalForm,
  type LegalStatus,
  type LegalStep,
  legalFormSchema,
  legalStatusSchema,
  type Majority,
  majoritySchema,
  NOT_PERSONAL,
  nameSchema,
  type Outcome,
  outcomeSchema,
  reasonSchema,
  registrationIdSchema,
  type SpaceKind,
  type SpaceRole,
  type SpaceRules,
  spaceRoleSchema,
  spaceRulesSchema,
  type Tally,
  type Vote,
} from './catalog/shared.ts';
export {
  activityEndedSchema,
  activityLaunchedSchema,
  carrierJoinedSchema,
  meetingHeldSchema,
  memberEnrolledSchema,
  spaceOpenedSchema,
  spaceRulesChangedSchema,
} from './catalog/working-groups.ts';
export type { EventEnvelope, Evidence, NewEvent } from './envelope.ts';
export {
  type ChainBreakReason,
  type ChainVerification,
  computeEventHash,
  GENESIS_HASH,
  type HashableEnvelope,
  verifyChain,
} from './hash-chain.ts';
export { deterministicEventId, type EventId, newEventId, type Slug, slugSchema } from './ids.ts';
export {
  compareValidTime,
  daysBetween,
  endInstant,
  isDateOnly,
  isValidTime,
  parisDate,
  parisDay,
  startInstant,
  type ValidTime,
  validTimeSchema,
} from './valid-time.ts';
