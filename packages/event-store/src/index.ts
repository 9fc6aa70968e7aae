// The adapters are subpath exports (`@ptce/event-store/sqlite`, `/postgres`, `/kurrentdb`) and
// `openEventStore`/`openStores` import the one its URL names: importing this entry loads no
// database driver, so a process on SQLite does not carry pg and the KurrentDB gRPC client in memory.
export { byTakenAt, type CheckpointStore, type StoredCheckpoint } from './checkpoints.ts';
export {
  AppendChainBrokenError,
  DuplicateEventIdError,
  RevisionConflictError,
  StoreUnavailableError,
} from './errors.ts';
export {
  type IdempotencyRecord,
  type IdempotencyStore,
  type KeyedRecord,
  leaseStamp,
} from './idempotency.ts';
export {
  keysLiveInRedis,
  type OpenEventStoreOptions,
  type OpenStoresOptions,
  openEventStore,
  openRevocationStore,
  openStores,
  sharedByConnections,
} from './open.ts';
export type { PersonalKeyStore } from './personal-keys.ts';
export type {
  AppendChain,
  AppendOptions,
  AppendResult,
  EventStore,
  ExpectedRevision,
  FoldableEvent,
  ForwardReadOptions,
  ReadAllOptions,
  ReadStreamOptions,
  StoredEventText,
  Stores,
  SubscribeOptions,
  Subscription,
  SubscriptionHandler,
} from './port.ts';
export { readStreamForFold, readStreamText } from './port.ts';
export { RedisCheckpointStore } from './redis/checkpoints.ts';
export { RedisPersonalKeyStore } from './redis/personal-keys.ts';
export { RedisRevocationStore } from './redis/revocations.ts';
export type { RevocationStore, RevokedToken } from './revocations.ts';
