import type { Redis } from 'ioredis';
import { byTakenAt, type CheckpointStore, type StoredCheckpoint } from '../checkpoints.ts';

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
    const all = await this.redis.hvals(`${this.prefix}:${ptceId}`);
    return all.map((text) => JSON.parse(text) as StoredCheckpoint).sort(byTakenAt);
  }
}
