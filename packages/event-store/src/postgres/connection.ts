import type pg from 'pg';
import { StoreUnavailableError } from '../errors.ts';
import { isPostgresUnavailable } from '../unavailable.ts';

export function toStoreError(error: unknown): unknown {
  if (error instanceof StoreUnavailableError || !isPostgresUnavailable(error)) return error;
  return new StoreUnavailableError(`postgres: ${(error as Error).message}`, { cause: error });
}

/**
 * The event store's pool, and whether the store was closed: the reads, the append paths and the
 * notifications share it, so that a closed store refuses them all alike.
 */
export class PgConnection {
  closed = false;

  constructor(
    readonly pool: pg.Pool,
    /** For the LISTEN client, which lives outside the pool. */
    readonly url: string,
  ) {}

  async query<R extends pg.QueryResultRow>(
    name: string | undefined,
    text: string,
    values: unknown[],
  ): Promise<R[]> {
    if (this.closed) throw new StoreUnavailableError('postgres: the store is closed');
    try {
      const result = await this.pool.query<R>(name === undefined ? { text, values } : { name, text, values });
      return result.rows;
    } catch (error) {
      throw toStoreError(error);
    }
  }

  /** A client for a transaction of several statements (every pool client listens for 'error': see the pool). */
  async checkOut(): Promise<pg.PoolClient> {
    if (this.closed) throw new StoreUnavailableError('postgres: the store is closed');
    try {
      return await this.pool.connect();
    } catch (error) {
      throw toStoreError(error);
    }
  }
}
