import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

/**
 * Who of several projector processes is the active one. The others stand by, trying again now
 * and then, and one of them takes over when the active one stops renewing (it died, or lost
 * Redis for longer than the lease).
 */
export interface ProjectorLock {
  /** Whoever holds the lock, for messages. */
  readonly holder: string;
  /** Takes the lock if it is free (or already ours); true when this process holds it. */
  acquire(): Promise<boolean>;
  /** Extends the lease; false when the lock is no longer ours. */
  renew(): Promise<boolean>;
  release(): Promise<void>;
  /**
   * Runs `write` only while the lock is ours, in one step with that check: a projector that lost
   * the lock while it computed (a long pause) must not overwrite what its successor wrote.
   * Resolves to false, writing nothing, when the lock is no longer ours.
   */
  fenced(write: (transaction: FencedTransaction) => void): Promise<boolean>;
  /** Lets go of what the lock holds open (its connection); after `release`. */
  close(): void;
}

/** The commands of one atomic write (a Redis MULTI). */
export type FencedTransaction = ReturnType<Redis['multi']>;

const RENEW = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end`;
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * A lease in Redis: `SET key holder NX PX ttl`, renewed by its holder only. Writes are fenced by
 * WATCH on the lock key and a MULTI, on a connection of the lock's own (WATCH is per connection).
 * A renewal touches the key, so it would void a fenced write it interleaved with: the lock's
 * operations run one at a time, whoever calls them (a projector's queue, a rebuild's timer).
 */
export class RedisProjectorLock implements ProjectorLock {
  readonly holder = `${process.pid}-${randomUUID()}`;
  private turn: Promise<unknown> = Promise.resolve();

  private inTurn<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.turn.then(async () => {
      // A duplicate of a lazily connecting client waits for its first command, which, with no
      // offline queue, fails instead: connect it first.
      if (this.redis.status === 'wait') await this.redis.connect();
      return operation();
    });
    this.turn = result.catch(() => undefined);
    return result;
  }

  constructor(
    /** A connection for the lock alone (`redis.duplicate()`): nothing else may WATCH on it. */
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs: number,
  ) {
    // A connection error fails the operation under way, which the projector reports and retries;
    // unheard, ioredis would print each reconnection attempt as an unhandled error.
    redis.on('error', () => undefined);
  }

  acquire(): Promise<boolean> {
    return this.inTurn(async () => {
      const set = await this.redis.set(this.key, this.holder, 'PX', this.ttlMs, 'NX');
      return set === 'OK' || this.extend();
    });
  }

  renew(): Promise<boolean> {
    return this.inTurn(() => this.extend());
  }

  release(): Promise<void> {
    return this.inTurn(async () => {
      await this.redis.eval(RELEASE, 1, this.key, this.holder);
    });
  }

  private async extend(): Promise<boolean> {
    return (await this.redis.eval(RENEW, 1, this.key, this.holder, this.ttlMs)) === 1;
  }

  close(): void {
    this.redis.disconnect();
  }

  fenced(write: (transaction: FencedTransaction) => void): Promise<boolean> {
    return this.inTurn(() => this.watchedWrite(write));
  }

  private async watchedWrite(write: (transaction: FencedTransaction) => void): Promise<boolean> {
    await this.redis.watch(this.key);
    try {
      if ((await this.redis.get(this.key)) !== this.holder) return false;
      const transaction = this.redis.multi();
      write(transaction);
      const results = await transaction.exec();
      // null: the lock key changed between WATCH and EXEC (taken over), and nothing was written.
      if (results === null) return false;
      const failed = results.find(([err]) => err !== null);
      if (failed) throw failed[0];
      return true;
    } finally {
      await this.redis.unwatch().catch(() => undefined);
    }
  }
}
