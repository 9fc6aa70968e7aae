import { StoreUnavailableError } from './errors.ts';

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

/**
 * The Idempotency-Key answers, kept beside the events (see `openStores`) so that they survive a
 * restart exactly as the events do.
 */
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
  /**
   * `get` for many keys in one round trip, in their order: an import looks up every line of a
   * file at once instead of paying one query per line.
   */
  getMany(keys: readonly string[]): Promise<(IdempotencyRecord | null)[]>;
  /** `reserve` for many keys at once (one transaction where the store has them), in their order. */
  reserveMany(entries: readonly KeyedRecord[]): Promise<boolean[]>;
  /** `complete` for many keys at once (one transaction where the store has them), in their order. */
  completeMany(entries: readonly KeyedRecord[]): Promise<boolean[]>;
  /**
   * Closes what this store opened for itself; one sharing the event store's connection does
   * nothing here and closes with that store.
   */
  close(): Promise<void>;
}

export interface KeyedRecord {
  readonly key: string;
  readonly record: IdempotencyRecord;
}

/** The time the attempt holding a record was last known alive. */
export const leaseStamp = (record: IdempotencyRecord): number => record.renewedAt ?? record.createdAt;

/** The contract keeps keys at least 24 hours; 48 outlive a long weekend's retry loop. */
export const IDEMPOTENCY_TTL_MS = 48 * 60 * 60 * 1000;

/**
 * Runs one store operation. The keys live beside the events: when their store cannot be reached,
 * the write must answer 503 with Retry-After like an unreachable event store, not 500.
 */
export async function keysGuarded<T>(
  backend: string,
  isUnavailable: (error: unknown) => boolean,
  work: () => T | Promise<T>,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof StoreUnavailableError || !isUnavailable(error)) throw error;
    throw new StoreUnavailableError(`idempotency keys (${backend}): ${(error as Error).message}`, {
      cause: error,
    });
  }
}
