import { Redis, type RedisOptions } from 'ioredis';

export type { Redis } from 'ioredis';

/**
 * Redis holds only what can be lost (read models, idempotency keys, rate-limit counters), so a
 * Redis that is down must make commands fail at once rather than queue them: callers then fall
 * back or report "degraded" instead of hanging a request.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
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
