import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';

/**
 * One step each, numbered by position and recorded in `user_version`. `IF NOT EXISTS` everywhere:
 * a file made before the numbering (an events file of the first version, a KurrentDB deployment's
 * `idempotency.db`) already holds some of these tables, with rows to keep.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS events (
     global_position INTEGER PRIMARY KEY AUTOINCREMENT,
     stream TEXT NOT NULL,
     revision INTEGER NOT NULL,
     event_id TEXT NOT NULL UNIQUE,
     type TEXT NOT NULL,
     schema_version INTEGER NOT NULL,
     ptce_id TEXT NOT NULL,
     occurred_at TEXT NOT NULL,
     recorded_at TEXT NOT NULL,
     recorded_by TEXT NOT NULL,
     data TEXT NOT NULL,
     metadata TEXT,
     prev_hash TEXT NOT NULL,
     hash TEXT NOT NULL,
     UNIQUE (stream, revision)
   );`,
  `CREATE TABLE IF NOT EXISTS idempotency_keys (
     key TEXT PRIMARY KEY, record TEXT NOT NULL, expires_at INTEGER NOT NULL);
   CREATE TABLE IF NOT EXISTS revoked_tokens (
     jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL, reason TEXT);`,
  `CREATE TABLE IF NOT EXISTS personal_data_keys (
     subject TEXT PRIMARY KEY, wrapped BLOB NOT NULL, created_at INTEGER NOT NULL);`,
  `CREATE TABLE IF NOT EXISTS chain_checkpoints (
     ptce_id TEXT NOT NULL, digest TEXT NOT NULL, taken_at TEXT NOT NULL, body TEXT NOT NULL,
     key_id TEXT NOT NULL, signature TEXT NOT NULL, PRIMARY KEY (ptce_id, digest));`,
];

/** The migration that brought the keys and the revoked tokens into the events' file. */
const KEYS_MIGRATION = 2;

export interface SqliteDatabaseOptions {
  /** FULL (default) makes every acknowledged write survive a power cut; NORMAL may lose the last ones. */
  readonly synchronous?: 'FULL' | 'NORMAL';
  /**
   * Where an earlier version kept the keys and the revoked tokens (`<DATA_DIR>/idempotency.db`):
   * when the file is brought to the migration that moved them here, the live ones are copied
   * from it, once. Revocations must not come back to life with an upgrade; keys carried over
   * still answer the retries in flight. What a process of the earlier version writes to that file
   * afterwards is not seen: at worst a retry in flight during the upgrade runs its command again.
   */
  readonly legacyKeysFile?: string;
  /** Which keys and revocations have expired, when copying them (tests move it). */
  readonly now?: () => number;
}

function newerThanCode(version: number): Error {
  return new Error(`sqlite: schema version ${version} is newer than this code (${MIGRATIONS.length})`);
}

function copyLegacyKeys(db: Database.Database, now: number): void {
  const tables = new Set(
    db.prepare<[], string>("SELECT name FROM legacy.sqlite_master WHERE type = 'table'").pluck().all(),
  );
  if (tables.has('idempotency_keys')) {
    db.prepare(
      `INSERT OR IGNORE INTO main.idempotency_keys (key, record, expires_at)
       SELECT key, record, expires_at FROM legacy.idempotency_keys WHERE expires_at >= ?`,
    ).run(now);
  }
  if (tables.has('revoked_tokens')) {
    db.prepare(
      `INSERT OR IGNORE INTO main.revoked_tokens (jti, expires_at, revoked_at, reason)
       SELECT jti, expires_at, revoked_at, reason FROM legacy.revoked_tokens WHERE expires_at > ?`,
    ).run(now);
  }
}

function migrate(db: Database.Database, path: string, options: SqliteDatabaseOptions): void {
  const version = () => db.pragma('user_version', { simple: true }) as number;
  const found = version();
  if (found > MIGRATIONS.length) throw newerThanCode(found);
  if (found === MIGRATIONS.length) return;
  const legacy =
    found < KEYS_MIGRATION &&
    options.legacyKeysFile !== undefined &&
    path !== ':memory:' &&
    resolve(options.legacyKeysFile) !== resolve(path) &&
    existsSync(options.legacyKeysFile)
      ? options.legacyKeysFile
      : undefined;
  // SQLite attaches only outside a transaction.
  if (legacy !== undefined) db.prepare('ATTACH DATABASE ? AS legacy').run(legacy);
  try {
    // Under the write lock, read again: another process starting on the same file may have
    // migrated it while this one waited.
    db.transaction(() => {
      const current = version();
      if (current > MIGRATIONS.length) throw newerThanCode(current);
      for (let step = current + 1; step <= MIGRATIONS.length; step++) {
        db.exec(MIGRATIONS[step - 1]!);
        if (step === KEYS_MIGRATION && legacy !== undefined) copyLegacyKeys(db, (options.now ?? Date.now)());
      }
      db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
  } finally {
    if (legacy !== undefined) db.exec('DETACH DATABASE legacy');
  }
}

/**
 * `path` is a file path or `:memory:`; the parent directory is created when missing. Every
 * SQLite file of a deployment has this one schema, the events beside the keys and the revoked
 * tokens: a KurrentDB deployment's `idempotency.db` only leaves its events table empty.
 */
export function openSqliteDatabase(path: string, options: SqliteDatabaseOptions = {}): Database.Database {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
    // Another process (the CLI, a crashed-and-restarted server, another service) may hold the
    // write lock briefly.
    db.pragma('busy_timeout = 5000');
    // A natural person's data key, once deleted, must not linger in free pages: deleted content is
    // overwritten with zeros. Nothing else is ever deleted but expired idempotency keys.
    db.pragma('secure_delete = ON');
    migrate(db, path, options);
  } catch (error) {
    db.close();
    throw error;
  }
  return db;
}
