import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type Database from 'better-sqlite3';
import type { Redis } from 'ioredis';
import type pg from 'pg';

// As for the idempotency keys: a deployment uses one of the three stores, so only its driver is
// loaded, and `require` (the drivers are CommonJS) keeps the constructors synchronous.
const require = createRequire(import.meta.url);

/** A bearer token refused before its expiry, named by its `jti`. */
export interface RevokedToken {
  readonly jti: string;
  /**
   * Milliseconds since the epoch after which the entry may be forgotten: the token's own `exp`
   * (it is refused by then anyway), or, when only the jti was given, the longest lifetime a
   * token may have.
   */
  readonly expiresAt: number;
  readonly revokedAt: number;
  readonly reason?: string;
}

/**
 * Revoked tokens, kept in the deployment's durable store beside the idempotency keys, so that
 * the `ptce` command and every service process of a deployment see the same list.
 */
export interface RevocationStore {
  /**
   * Records a revocation. Revoking a jti again keeps the first revocation's time and reason and
   * the later of the two expiries. Entries whose expiry has passed are dropped on the way.
   */
  revoke(token: RevokedToken): Promise<void>;
  /** Every revocation whose expiry is after `now` (milliseconds since the epoch). */
  list(now: number): Promise<RevokedToken[]>;
  close(): Promise<void>;
}

const rowToToken = (row: {
  jti: string;
  expiresAt: number;
  revokedAt: number;
  reason: string | null;
}): RevokedToken => ({
  jti: row.jti,
  expiresAt: row.expiresAt,
  revokedAt: row.revokedAt,
  ...(row.reason === null ? {} : { reason: row.reason }),
});

export class SqliteRevocationStore implements RevocationStore {
  private readonly db: Database.Database;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    const Sqlite = require('better-sqlite3') as typeof Database;
    this.db = new Sqlite(file);
    // The file is shared with the idempotency keys and every service process of the deployment.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(
      `CREATE TABLE IF NOT EXISTS revoked_tokens (
         jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL, reason TEXT)`,
    );
  }

  async revoke(token: RevokedToken): Promise<void> {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM revoked_tokens WHERE expires_at <= ?').run(token.revokedAt);
      this.db
        .prepare(
          `INSERT INTO revoked_tokens (jti, expires_at, revoked_at, reason) VALUES (?, ?, ?, ?)
           ON CONFLICT (jti) DO UPDATE SET expires_at = max(expires_at, excluded.expires_at)`,
        )
        .run(token.jti, token.expiresAt, token.revokedAt, token.reason ?? null);
    })();
  }

  async list(now: number): Promise<RevokedToken[]> {
    return this.db
      .prepare<[number], { jti: string; expiresAt: number; revokedAt: number; reason: string | null }>(
        `SELECT jti, expires_at AS expiresAt, revoked_at AS revokedAt, reason
         FROM revoked_tokens WHERE expires_at > ? ORDER BY revoked_at, jti`,
      )
      .all(now)
      .map(rowToToken);
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

export class PostgresRevocationStore implements RevocationStore {
  private ready: Promise<void> | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly ownsPool = false,
  ) {}

  static fromUrl(url: string): PostgresRevocationStore {
    const { Pool } = require('pg') as typeof pg;
    // One refresh every few seconds and a rare revoke: two connections are plenty.
    const pool = new Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000 });
    // An idle client whose backend went away emits 'error' on the pool; unheard, it would end
    // the process. The pool drops that client and the next query connects again.
    pool.on('error', () => undefined);
    return new PostgresRevocationStore(pool, true);
  }

  private migrate(): Promise<void> {
    this.ready ??= this.pool
      .query(
        `CREATE TABLE IF NOT EXISTS revoked_tokens (
           jti text PRIMARY KEY, expires_at timestamptz NOT NULL, revoked_at timestamptz NOT NULL, reason text)`,
      )
      .then(
        () => undefined,
        (error: unknown) => {
          // Not kept: PostgreSQL down at the first refresh must not fail every later one.
          this.ready = undefined;
          throw error;
        },
      );
    return this.ready;
  }

  async revoke(token: RevokedToken): Promise<void> {
    await this.migrate();
    const revokedAt = new Date(token.revokedAt);
    await this.pool.query('DELETE FROM revoked_tokens WHERE expires_at <= $1', [revokedAt]);
    await this.pool.query(
      `INSERT INTO revoked_tokens (jti, expires_at, revoked_at, reason) VALUES ($1, $2, $3, $4)
       ON CONFLICT (jti) DO UPDATE SET expires_at = greatest(revoked_tokens.expires_at, excluded.expires_at)`,
      [token.jti, new Date(token.expiresAt), revokedAt, token.reason ?? null],
    );
  }

  async list(now: number): Promise<RevokedToken[]> {
    await this.migrate();
    const { rows } = await this.pool.query<{
      jti: string;
      expires_at: Date;
      revoked_at: Date;
      reason: string | null;
    }>(
      `SELECT jti, expires_at, revoked_at, reason FROM revoked_tokens
       WHERE expires_at > $1 ORDER BY revoked_at, jti`,
      [new Date(now)],
    );
    return rows.map((row) =>
      rowToToken({
        jti: row.jti,
        expiresAt: row.expires_at.getTime(),
        revokedAt: row.revoked_at.getTime(),
        reason: row.reason,
      }),
    );
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }
}

// One script, so that the expiry kept is the later one and the details and the index never
// disagree, whatever other client revokes at the same time.
const REVOKE_SCRIPT = `
local current = redis.call('ZSCORE', KEYS[1], ARGV[1])
if (not current) or tonumber(current) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
end
redis.call('HSETNX', KEYS[2], ARGV[1], ARGV[3])
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
for _, jti in ipairs(expired) do
  redis.call('HDEL', KEYS[2], jti)
end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[4])
return 0`;

/**
 * For KurrentDB deployments, which have no table to put them in (as the idempotency keys).
 * Redis must persist (AOF) for revocations to survive a Redis restart. A sorted set scored by
 * expiry lists the jtis; a hash beside it holds when and why each was revoked.
 */
export class RedisRevocationStore implements RevocationStore {
  private readonly index: string;
  private readonly details: string;

  constructor(
    private readonly redis: Redis,
    prefix = 'ptce:revoked:',
  ) {
    this.index = `${prefix}jti`;
    this.details = `${prefix}details`;
  }

  async revoke(token: RevokedToken): Promise<void> {
    const details = JSON.stringify({ revokedAt: token.revokedAt, reason: token.reason ?? null });
    await this.redis.eval(
      REVOKE_SCRIPT,
      2,
      this.index,
      this.details,
      token.jti,
      token.expiresAt,
      details,
      token.revokedAt,
    );
  }

  async list(now: number): Promise<RevokedToken[]> {
    const flat = await this.redis.zrangebyscore(this.index, `(${now}`, '+inf', 'WITHSCORES');
    const entries: { jti: string; expiresAt: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      entries.push({ jti: flat[i] as string, expiresAt: Number(flat[i + 1]) });
    }
    if (entries.length === 0) return [];
    const details = await this.redis.hmget(this.details, ...entries.map((e) => e.jti));
    return entries
      .map(({ jti, expiresAt }, i) => {
        const parsed = JSON.parse(details[i] ?? '{}') as { revokedAt?: number; reason?: string | null };
        return rowToToken({
          jti,
          expiresAt,
          revokedAt: parsed.revokedAt ?? 0,
          reason: parsed.reason ?? null,
        });
      })
      .sort((a, b) => a.revokedAt - b.revokedAt || (a.jti < b.jti ? -1 : a.jti > b.jti ? 1 : 0));
  }

  /** The client belongs to the caller (it is shared with the rate limiter and the idempotency keys). */
  async close(): Promise<void> {}
}

/**
 * The same choice as the idempotency keys' (`openIdempotencyStore` in @ptce/write-side), so the
 * revocations land in the same database: PostgreSQL for a PostgreSQL event store; for KurrentDB,
 * Redis when configured; otherwise the SQLite file `<dataDir>/idempotency.db`.
 */
export function openRevocationStore(options: {
  readonly eventStoreUrl: string;
  readonly dataDir: string;
  readonly redis?: Redis;
}): RevocationStore {
  const url = options.eventStoreUrl;
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) {
    return PostgresRevocationStore.fromUrl(url);
  }
  if (url === 'sqlite::memory:') return new SqliteRevocationStore(':memory:');
  if (!url.startsWith('sqlite:') && options.redis) return new RedisRevocationStore(options.redis);
  return new SqliteRevocationStore(join(options.dataDir, 'idempotency.db'));
}
