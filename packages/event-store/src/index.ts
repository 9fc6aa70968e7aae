// The adapters are subpath exports (`@ptce/event-store/sqlite`, `/postgres`, `/kurrentdb`) and
// `openEventStore` imports the one its URL names: importing this entry loads no database driver,
// so a process on SQLite does not carry pg and the KurrentDB gRPC client in memory.
export * from './errors.ts';
export { type OpenEventStoreOptions, openEventStore } from './open.ts';
export * from './port.ts';
export {
  openRevocationStore,
  PostgresRevocationStore,
  RedisRevocationStore,
  type RevocationStore,
  type RevokedToken,
  SqliteRevocationStore,
} from './revocations.ts';
export { isPostgresUnavailable, isSqliteUnavailable } from './unavailable.ts';
