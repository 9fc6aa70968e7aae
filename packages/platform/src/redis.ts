import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';

export type { Redis } from 'ioredis';

// ioredis is loaded on the first client, not with the platform: a deployment without REDIS_URL
// never needs its memory. It is CommonJS, so `require` keeps createRedis synchronous.
const require = createRequire(import.meta.url);

/**
 * Redis holds only what can be lost (read models, idempotency keys, rate-limit counters), so a
 * Redis that is down must make commands fail at once rather than queue them: callers then fall
 * back or report "degraded" instead of hanging a request.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const { Redis } = require('ioredis') as typeof IORedis;
  return new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 2_000,
    // Keep trying in the background with a capped back-off; the process never gives up on Redis.
    retryStrategy: (attempt) => Math.min(attempt * 200, 5_000),
    ...options,
  });
}
