import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { isPostgresUnavailable, isSqliteUnavailable, StoreUnavailableError } from '@ptce/event-store';
import type Database from 'better-sqlite3';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import type pg from 'pg';

// Each driver weighs megabytes once loaded and a deployment uses one of the three stores: a
// driver is loaded when a store that needs it is created. They are CommonJS, so `require` keeps
// the stores' constructors synchronous, as callers and tests use them.
const require = createRequire(import.meta.url);

/**
 * What a write answered, kept under its Idempotency-Key so that a retry — even after a
 * restart — gets the very same answer. `pending` marks a command that was started but whose
 * answer was never saved (a crash between the append and the save): the retry then looks for
 * the events the first attempt may have appended before running the command again.
 */
export interface IdempotencyRecord {
  readonly fingerprint: string;
  readonly state: 'pending' | 'done';
  readonly stream: string;
  readonly createdAt: number;
  /** The last time the attempt holding a pending key said it was still running (see `renew`). */
  readonly renewedAt?: number;
  /**
   * A nonce of the attempt that holds the key. A retry may take over a pending record left by a
   * crash; the attempt it replaced, if still alive, must then neither complete nor release it.
   */
  readonly owner: string;
  readonly response?: { readonly status: number; readonly body: unknown; readonly etag?: string };
}

export interface IdempotencyStore {
  get(key: string): Promise<IdempotencyRecord | null>;
  /** Inserts only when the key is absent; false when another request holds it already. */
  reserve(key: string, record: IdempotencyRecord): Promise<boolean>;
  /**
   * Replaces `stale` — the record as `get` returned it — by `record`, only if the key is still held
   * by the same owner and was not renewed since: of concurrent takeovers of an abandoned record one
   * wins, and a holder that renewed meanwhile is alive and keeps its key.
   */
  takeOver(key: string, stale: IdempotencyRecord, record: IdempotencyRecord): Promise<boolean>;
  /** A running attempt's heartbeat: sets `renewedAt` only while `owner` holds the key, pending. */
  renew(key: string, owner: string, at: number): Promise<boolean>;
  /** Saves the answer, only if `record.owner` still holds the key; false when it does not. */
  complete(key: string, record: IdempotencyRecord): Promise<boolean>;
  /** Frees the key, only if `owner` still holds it. */
  release(key: string, owner: string): Promise<void>;
  close(): Promise<void>;
}

/**
 * The keys live beside the events: when their store cannot be reached, the write must answer
 * 503 with Retry-After like an unreachable event store, not 500.
 */
function unavailable(backend: string, error: unknown, isUnavailable: (error: unknown) => boolean): unknown {
  if (error instanceof StoreUnavailableError || !isUnavailable(error)) return error;
  return new StoreUnavailableError(`idempotency keys (${backend}): ${(error as Error).message}`, {
    cause: error,
  });
}

async function guarded<T>(
  backend: string,
  isUnavailable: (error: unknown) => boolean,
  work: () => T | Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw unavailable(backend, error, isUnavailable);
  }
}

const sqliteGuard = <T>(work: () => T) => guarded('sqlite', isSqliteUnavailable, work);
const postgresGuard = <T>(work: () => Promise<T>) => guarded('postgres', isPostgresUnavailable, work);
// A ReplyError is Redis refusing a command (a bug of ours); every other ioredis error means the
// server could not be reached: offline queue disabled, connection closed, command timeout.
const redisGuard = <T>(work: () => Promise<T>) =>
  guarded('redis', (error) => error instanceof Error && !(error instanceof replyError()), work);
// Only a RedisIdempotencyStore calls it, over a client made by ioredis: the module is loaded already.
const replyError = () => (require('ioredis') as typeof IORedis).ReplyError;

/** The time the attempt holding a record was last known alive. */
export const leaseStamp = (record: IdempotencyRecord): number => record.renewedAt ?? record.createdAt;

/** The contract keeps keys at least 24 hours; 48 outlive a long weekend's retry loop. */
export const IDEMPOTENCY_TTL_MS = 48 * 60 * 60 * 1000;

export class SqliteIdempotencyStore implements IdempotencyStore {
  private readonly db: Database.Database;
  private readonly getStmt: Database.Statement<[string, number], { record: string }>;
  private readonly reserveStmt: Database.Statement<[string, string, number]>;
  private readonly takeOverStmt: Database.Statement<[string, number, string, string, number, number]>;
  private readonly renewStmt: Database.Statement<[number, string, string]>;
  private readonly completeStmt: Database.Statement<[string, number, string, string]>;
  private readonly releaseStmt: Database.Statement<[string, string]>;

  constructor(
    file: string,
    private readonly now: () => number = Date.now,
  ) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const Sqlite = require('better-sqlite3') as typeof Database;
    this.db = new Sqlite(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    // Every service process of a deployment shares this file: wait for a writer instead of failing.
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS idempotency_keys (key TEXT PRIMARY KEY, record TEXT NOT NULL, expires_at INTEGER NOT NULL)',
    );
    this.db.prepare('DELETE FROM idempotency_keys WHERE expires_at < ?').run(this.now());
    this.getStmt = this.db.prepare('SELECT record FROM idempotency_keys WHERE key = ? AND expires_at >= ?');
    this.reserveStmt = this.db.prepare(
      'INSERT INTO idempotency_keys (key, record, expires_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING',
    );
    this.takeOverStmt = this.db.prepare(
      `UPDATE idempotency_keys SET record = ?, expires_at = ?
       WHERE key = ? AND json_extract(record, '$.owner') = ?
         AND coalesce(json_extract(record, '$.renewedAt'), json_extract(record, '$.createdAt')) = ?
         AND expires_at >= ?`,
    );
    this.renewStmt = this.db.prepare(
      `UPDATE idempotency_keys SET record = json_set(record, '$.renewedAt', ?)
       WHERE key = ? AND json_extract(record, '$.owner') = ? AND json_extract(record, '$.state') = 'pending'`,
    );
    this.completeStmt = this.db.prepare(
      "UPDATE idempotency_keys SET record = ?, expires_at = ? WHERE key = ? AND json_extract(record, '$.owner') = ?",
    );
    this.releaseStmt = this.db.prepare(
      "DELETE FROM idempotency_keys WHERE key = ? AND json_extract(record, '$.owner') = ?",
    );
  }

  get(key: string): Promise<IdempotencyRecord | null> {
    return sqliteGuard(() => {
      const row = this.getStmt.get(key, this.now());
      return row ? (JSON.parse(row.record) as IdempotencyRecord) : null;
    });
  }

  reserve(key: string, record: IdempotencyRecord): Promise<boolean> {
    return sqliteGuard(() => {
      this.releaseExpired(key);
      return this.reserveStmt.run(key, JSON.stringify(record), this.now() + IDEMPOTENCY_TTL_MS).changes === 1;
    });
  }

  takeOver(key: string, stale: IdempotencyRecord, record: IdempotencyRecord): Promise<boolean> {
    return sqliteGuard(() => {
      const expiresAt = this.now() + IDEMPOTENCY_TTL_MS;
      return (
        this.takeOverStmt.run(
          JSON.stringify(record),
          expiresAt,
          key,
          stale.owner,
          leaseStamp(stale),
          this.now(),
        ).changes === 1
      );
    });
  }

  renew(key: string, owner: string, at: number): Promise<boolean> {
    return sqliteGuard(() => this.renewStmt.run(at, key, owner).changes === 1);
  }

  complete(key: string, record: IdempotencyRecord): Promise<boolean> {
    return sqliteGuard(
      () =>
        this.completeStmt.run(JSON.stringify(record), this.now() + IDEMPOTENCY_TTL_MS, key, record.owner)
          .changes === 1,
    );
  }

  release(key: string, owner: string): Promise<void> {
    return sqliteGuard(() => {
      this.releaseStmt.run(key, owner);
    });
  }

  async close(): Promise<void> {
    this.db.close();
  }

  private releaseExpired(key: string): void {
    this.db.prepare('DELETE FROM idempotency_keys WHERE key = ? AND expires_at < ?').run(key, this.now());
  }
}

export class PostgresIdempotencyStore implements IdempotencyStore {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool = false,
  ) {}

  static fromUrl(url: string): PostgresIdempotencyStore {
    const { Pool } = require('pg') as typeof pg;
    const pool = new Pool({ connectionString: url, max: 4, connectionTimeoutMillis: 5_000 });
    // An idle client whose backend goes away (pg_terminate_backend, a PostgreSQL restart) emits
    // 'error' on the pool; unheard, that is an uncaught exception ending the process. The pool
    // drops that client by itself and the next query connects again.
    pool.on('error', () => undefined);
    return new PostgresIdempotencyStore(pool, true);
  }

  /** Every query goes through here: a connection failure becomes StoreUnavailableError (503). */
  private query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return postgresGuard(() => this.pool.query<R>(text, values));
  }

  private migrate(): Promise<void> {
    this.ready ??= this.query(
      `CREATE TABLE IF NOT EXISTS idempotency_keys (
         key text PRIMARY KEY, record jsonb NOT NULL, expires_at timestamptz NOT NULL)`,
    ).then(
      () => undefined,
      (error: unknown) => {
        // Not kept: PostgreSQL down at the first request must not fail every later one.
        this.ready = undefined;
        throw error;
      },
    );
    return this.ready;
  }

  async get(key: string): Promise<IdempotencyRecord | null> {
    await this.migrate();
    const { rows } = await this.query<{ record: IdempotencyRecord }>(
      'SELECT record FROM idempotency_keys WHERE key = $1 AND expires_at >= now()',
      [key],
    );
    return rows[0]?.record ?? null;
  }

  async reserve(key: string, record: IdempotencyRecord): Promise<boolean> {
    await this.migrate();
    await this.query('DELETE FROM idempotency_keys WHERE key = $1 AND expires_at < now()', [key]);
    const result = await this.query(
      `INSERT INTO idempotency_keys (key, record, expires_at)
       VALUES ($1, $2, now() + ($3 || ' milliseconds')::interval) ON CONFLICT (key) DO NOTHING`,
      [key, JSON.stringify(record), String(IDEMPOTENCY_TTL_MS)],
    );
    return result.rowCount === 1;
  }

  async takeOver(key: string, stale: IdempotencyRecord, record: IdempotencyRecord): Promise<boolean> {
    await this.migrate();
    // One UPDATE: PostgreSQL re-checks the WHERE on the row a concurrent takeover just changed.
    const result = await this.query(
      `UPDATE idempotency_keys SET record = $2, expires_at = now() + ($5 || ' milliseconds')::interval
       WHERE key = $1 AND record->>'owner' = $3
         AND coalesce(record->'renewedAt', record->'createdAt') = $4::jsonb AND expires_at >= now()`,
      [
        key,
        JSON.stringify(record),
        stale.owner,
        JSON.stringify(leaseStamp(stale)),
        String(IDEMPOTENCY_TTL_MS),
      ],
    );
    return result.rowCount === 1;
  }

  async renew(key: string, owner: string, at: number): Promise<boolean> {
    await this.migrate();
    const result = await this.query(
      `UPDATE idempotency_keys SET record = jsonb_set(record, '{renewedAt}', $3::jsonb)
       WHERE key = $1 AND record->>'owner' = $2 AND record->>'state' = 'pending'`,
      [key, owner, JSON.stringify(at)],
    );
    return result.rowCount === 1;
  }

  async complete(key: string, record: IdempotencyRecord): Promise<boolean> {
    await this.migrate();
    const result = await this.query(
      `UPDATE idempotency_keys SET record = $2, expires_at = now() + ($4 || ' milliseconds')::interval
       WHERE key = $1 AND record->>'owner' = $3`,
      [key, JSON.stringify(record), record.owner, String(IDEMPOTENCY_TTL_MS)],
    );
    return result.rowCount === 1;
  }

  async release(key: string, owner: string): Promise<void> {
    await this.migrate();
    await this.query(`DELETE FROM idempotency_keys WHERE key = $1 AND record->>'owner' = $2`, [key, owner]);
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

// Lua scripts run atomically in Redis: the check and the write cannot be split by another client.
// Records are compared by owner and lease stamp, never as text: cjson re-encodes a renewed record
// with its keys in another order than JSON.stringify. Numbers are compared as numbers (cjson
// decodes them as doubles, exact for epoch milliseconds).
const TAKE_OVER_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local record = cjson.decode(current)
local stamp = record.renewedAt or record.createdAt
if record.owner == ARGV[1] and stamp == tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
  return 1
end
return 0`;
const RENEW_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
local record = cjson.decode(current)
if record.owner == ARGV[1] and record.state == 'pending' then
  record.renewedAt = tonumber(ARGV[2])
  redis.call('SET', KEYS[1], cjson.encode(record), 'KEEPTTL')
  return 1
end
return 0`;
const COMPLETE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).owner == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`;
const RELEASE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current and cjson.decode(current).owner == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * For KurrentDB deployments, which have no table to put keys in. Redis here must persist
 * (AOF) for keys to survive a Redis restart; a server restart alone never loses them.
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'ptce:idem:',
  ) {}

  get(key: string): Promise<IdempotencyRecord | null> {
    return redisGuard(async () => {
      const raw = await this.redis.get(this.prefix + key);
      return raw ? (JSON.parse(raw) as IdempotencyRecord) : null;
    });
  }

  reserve(key: string, record: IdempotencyRecord): Promise<boolean> {
    return redisGuard(async () => {
      const ok = await this.redis.set(
        this.prefix + key,
        JSON.stringify(record),
        'PX',
        IDEMPOTENCY_TTL_MS,
        'NX',
      );
      return ok === 'OK';
    });
  }

  takeOver(key: string, stale: IdempotencyRecord, record: IdempotencyRecord): Promise<boolean> {
    return redisGuard(async () => {
      const swapped = await this.redis.eval(
        TAKE_OVER_SCRIPT,
        1,
        this.prefix + key,
        stale.owner,
        leaseStamp(stale),
        JSON.stringify(record),
        IDEMPOTENCY_TTL_MS,
      );
      return swapped === 1;
    });
  }

  renew(key: string, owner: string, at: number): Promise<boolean> {
    return redisGuard(
      async () => (await this.redis.eval(RENEW_SCRIPT, 1, this.prefix + key, owner, at)) === 1,
    );
  }

  complete(key: string, record: IdempotencyRecord): Promise<boolean> {
    return redisGuard(async () => {
      const saved = await this.redis.eval(
        COMPLETE_SCRIPT,
        1,
        this.prefix + key,
        record.owner,
        JSON.stringify(record),
        IDEMPOTENCY_TTL_MS,
      );
      return saved === 1;
    });
  }

  release(key: string, owner: string): Promise<void> {
    return redisGuard(async () => {
      await this.redis.eval(RELEASE_SCRIPT, 1, this.prefix + key, owner);
    });
  }

  async close(): Promise<void> {}
}

/**
 * Keys live beside the events when the store is SQLite or PostgreSQL, so that they survive a
 * restart exactly as the events do. KurrentDB has no table for them: Redis when configured,
 * else a SQLite file in DATA_DIR.
 */
export function openIdempotencyStore(options: {
  readonly eventStoreUrl: string;
  readonly dataDir: string;
  readonly redis?: Redis;
}): IdempotencyStore {
  const url = options.eventStoreUrl;
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return PostgresIdempotencyStore.fromUrl(url);
  }
  if (url === 'sqlite::memory:') return new SqliteIdempotencyStore(':memory:');
  if (!url.startsWith('sqlite:') && options.redis) return new RedisIdempotencyStore(options.redis);
  return new SqliteIdempotencyStore(join(options.dataDir, 'idempotency.db'));
}
