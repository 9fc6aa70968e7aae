import type { Redis } from 'ioredis';
import type { PersonalKeyStore } from '../personal-keys.ts';

/**
 * For KurrentDB deployments, beside their idempotency keys. Redis must persist (AOF) for the keys
 * to survive a restart: a lost data key is an erasure nobody asked for. A deleted field leaves
 * Redis's memory at once; its AOF keeps it until the next rewrite, which `destroy` starts.
 */
export class RedisPersonalKeyStore implements PersonalKeyStore {
  private readonly hash: string;

  constructor(
    private readonly redis: Redis,
    prefix = 'ptce:personal-keys',
  ) {
    this.hash = prefix;
  }

  async find(subjects: readonly string[]): Promise<Map<string, Buffer>> {
    if (subjects.length === 0) return new Map();
    const values = await this.redis.hmgetBuffer(this.hash, ...subjects);
    const found = new Map<string, Buffer>();
    subjects.forEach((subject, i) => {
      const wrapped = values[i];
      if (wrapped) found.set(subject, wrapped);
    });
    return found;
  }

  async obtain(subject: string, candidate: Buffer): Promise<Buffer> {
    await this.redis.hsetnx(this.hash, subject, candidate);
    const stored = await this.redis.hgetBuffer(this.hash, subject);
    if (!stored) throw new Error(`the data key of ${subject} was destroyed while it was being created`);
    return stored;
  }

  async obtainMany(candidates: ReadonlyMap<string, Buffer>): Promise<Map<string, Buffer>> {
    if (candidates.size === 0) return new Map();
    const multi = this.redis.multi();
    for (const [subject, candidate] of candidates) multi.hsetnx(this.hash, subject, candidate);
    await multi.exec();
    return this.find([...candidates.keys()]);
  }

  async destroy(subject: string): Promise<boolean> {
    const removed = await this.redis.hdel(this.hash, subject);
    // Without AOF there is nothing to rewrite; with it, a rewrite drops the deleted key from the
    // file (one already running is fine too).
    const persistence = await this.redis.info('persistence');
    if (/^aof_enabled:1\b/m.test(persistence)) await this.redis.bgrewriteaof().catch(() => undefined);
    return removed > 0;
  }
}
