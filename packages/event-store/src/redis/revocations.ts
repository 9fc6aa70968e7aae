import type { Redis } from 'ioredis';
import { type RevocationStore, type RevokedToken, revokedToken } from '../revocations.ts';

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
        return revokedToken({
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
