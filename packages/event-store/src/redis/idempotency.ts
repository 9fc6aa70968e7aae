import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis } from 'ioredis';
import {
  IDEMPOTENCY_TTL_MS,
  type IdempotencyRecord,
  type IdempotencyStore,
  type KeyedRecord,
  keysGuarded,
  leaseStamp,
} from '../idempotency.ts';

// ioredis is CommonJS and weighs megabytes: only a deployment that has a Redis client loads it,
// and the client given to this store was made by it already.
const require = createRequire(import.meta.url);
const replyError = () => (require('ioredis') as typeof IORedis).ReplyError;

// A ReplyError is Redis refusing a command (a bug of ours); every other ioredis error means the
// server could not be reached: offline queue disabled, connection closed, command timeout.
const guarded = <T>(work: () => Promise<T>) =>
  keysGuarded('redis', (error) => error instanceof Error && !(error instanceof replyError()), work);

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

/** A pipeline's replies; one command's error is thrown as the whole call's. */
function repliesOf(results: [Error | null, unknown][] | null): unknown[] {
  if (results === null) throw new Error('redis: the pipeline was discarded');
  return results.map(([error, reply]) => {
    if (error) throw error;
    return reply;
  });
}

/**
 * For KurrentDB deployments, which have no table to put keys in. Redis here must persist
 * (AOF) for keys to survive a Redis restart; a server restart alone never loses them. The client
 * belongs to the caller (it is shared with the rate limiter and the revoked tokens).
 */
export class RedisIdempotencyStore implements IdempotencyStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'ptce:idem:',
  ) {}

  get(key: string): Promise<IdempotencyRecord | null> {
    return guarded(async () => {
      const raw = await this.redis.get(this.prefix + key);
      return raw ? (JSON.parse(raw) as IdempotencyRecord) : null;
    });
  }

  reserve(key: string, record: IdempotencyRecord): Promise<boolean> {
    return guarded(async () => {
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
    return guarded(async () => {
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
    return guarded(async () => (await this.redis.eval(RENEW_SCRIPT, 1, this.prefix + key, owner, at)) === 1);
  }

  complete(key: string, record: IdempotencyRecord): Promise<boolean> {
    return guarded(async () => {
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
    return guarded(async () => {
      await this.redis.eval(RELEASE_SCRIPT, 1, this.prefix + key, owner);
    });
  }

  getMany(keys: readonly string[]): Promise<(IdempotencyRecord | null)[]> {
    return guarded(async () => {
      if (keys.length === 0) return [];
      const raws = await this.redis.mget(keys.map((key) => this.prefix + key));
      return raws.map((raw) => (raw ? (JSON.parse(raw) as IdempotencyRecord) : null));
    });
  }

  reserveMany(entries: readonly KeyedRecord[]): Promise<boolean[]> {
    return guarded(async () => {
      if (entries.length === 0) return [];
      const pipeline = this.redis.pipeline();
      for (const { key, record } of entries) {
        pipeline.set(this.prefix + key, JSON.stringify(record), 'PX', IDEMPOTENCY_TTL_MS, 'NX');
      }
      return repliesOf(await pipeline.exec()).map((reply) => reply === 'OK');
    });
  }

  completeMany(entries: readonly KeyedRecord[]): Promise<boolean[]> {
    return guarded(async () => {
      if (entries.length === 0) return [];
      const pipeline = this.redis.pipeline();
      for (const { key, record } of entries) {
        pipeline.eval(
          COMPLETE_SCRIPT,
          1,
          this.prefix + key,
          record.owner,
          JSON.stringify(record),
          IDEMPOTENCY_TTL_MS,
        );
      }
      return repliesOf(await pipeline.exec()).map((reply) => reply === 1);
    });
  }

  async close(): Promise<void> {}
}
