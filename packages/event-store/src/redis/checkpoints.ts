import type { Redis } from 'ioredis';
import { byTakenAt, type CheckpointStore, type StoredCheckpoint } from '../checkpoints.ts';

/**
 * A stored value as a checkpoint; one that is not even JSON is kept as an unreadable checkpoint,
 * which verify reports, rather than failing the whole list.
 */
function parsed(ptceId: string, digest: string, text: string): StoredCheckpoint {
  try {
    return JSON.parse(text) as StoredCheckpoint;
  } catch {
    return { ptceId, digest, takenAt: '', body: text, keyId: '', signature: '' };
  }
}

/** For KurrentDB deployments, beside their idempotency keys: one hash per PTCE, digest → checkpoint. */
export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix = 'ptce:checkpoints',
  ) {}

  async record(checkpoint: StoredCheckpoint): Promise<boolean> {
    const set = await this.redis.hsetnx(
      `${this.prefix}:${checkpoint.ptceId}`,
      checkpoint.digest,
      JSON.stringify(checkpoint),
    );
    return set === 1;
  }

  async list(ptceId: string): Promise<StoredCheckpoint[]> {
    const all = await this.redis.hgetall(`${this.prefix}:${ptceId}`);
    return Object.entries(all)
      .map(([digest, text]) => parsed(ptceId, digest, text))
      .sort(byTakenAt);
  }

  async ptceIds(): Promise<string[]> {
    const ids = new Set<string>();
    let cursor = '0';
    do {
      const [next, keys] = await this.redis.scan(cursor, 'MATCH', `${this.prefix}:*`, 'COUNT', 1000);
      for (const key of keys) ids.add(key.slice(this.prefix.length + 1));
      cursor = next;
    } while (cursor !== '0');
    return [...ids].sort();
  }
}
