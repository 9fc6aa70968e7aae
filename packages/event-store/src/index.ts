export * from './errors.ts';
export { openKurrentEventStore } from './kurrentdb.ts';
export { type OpenEventStoreOptions, openEventStore } from './open.ts';
export * from './port.ts';
export { isPostgresUnavailable, openPostgresEventStore, type PostgresOptions } from './postgres.ts';
export { isSqliteUnavailable, openSqliteEventStore, type SqliteOptions } from './sqlite.ts';
