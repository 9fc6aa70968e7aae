import type pg from 'pg';
import {
  IDEMPOTENCY_TTL_MS,
  type IdempotencyRecord,
  type IdempotencyStore,
  keysGuarded,
  leaseStamp,
} from '../idempotency.ts';
import { isPostgresUnavailable } from '../unavailable.ts';

/**
 * On the event store's pool, in the table its migrations made: a key costs no connection of its
 * own, and the pool's owner closes it.
 */
export class PostgresIdempotencyStore implements IdempotencyStore {
  constructor(private readonly pool: pg.Pool) {}

  /** Every query goes through here: a connection failure becomes StoreUnavailableError (503). */
  private query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    return keysGuarded('postgres', isPostgresUnavailable, () => this.pool.query<R>(text, values));
  }

  async get(key: string): Promise<IdempotencyRecord | null> {
    const { rows } = await this.query<{ record: IdempotencyRecord }>(
      'SELECT record FROM idempotency_keys WHERE key = $1 AND expires_at >= now()',
      [key],
    );
    return rows[0]?.record ?? null;
  }

  async reserve(key: string, record: IdempotencyRecord): Promise<boolean> {
    await this.query('DELETE FROM idempotency_keys WHERE key = $1 AND expires_at < now()', [key]);
    const result = await this.query(
      `INSERT INTO idempotency_keys (key, record, expires_at)
       VALUES ($1, $2, now() + ($3 || ' milliseconds')::interval) ON CONFLICT (key) DO NOTHING`,
      [key, JSON.stringify(record), String(IDEMPOTENCY_TTL_MS)],
    );
    return result.rowCount === 1;
  }

  async takeOver(key: string, stale: IdempotencyRecord, record: IdempotencyRecord): Promise<boolean> {
    // One UPDATE: PostgreSQL re-checks the WHERE on the row a concurrent takeover just changed.
    const result = await this.query(
      `UPDATE idempotency_keys SET record = $2, expires_at = now() + ($5 || ' milliseconds')::interval
       WHERE key = $1 AND record->>'owner' = $3
         AND coalesce(record->'renewedAt', record->'createdAt') = $4::jsonb AND expires_at >= now()`,
      [
        key,
        JSON.stringify(record),
        stale.owner,
        JSON.stringify(leaseStamp(stale)),
        String(IDEMPOTENCY_TTL_MS),
      ],
    );
    return result.rowCount === 1;
  }

  async renew(key: string, owner: string, at: number): Promise<boolean> {
    const result = await this.query(
      `UPDATE idempotency_keys SET record = jsonb_set(record, '{renewedAt}', $3::jsonb)
       WHERE key = $1 AND record->>'owner' = $2 AND record->>'state' = 'pending'`,
      [key, owner, JSON.stringify(at)],
    );
    return result.rowCount === 1;
  }

  async complete(key: string, record: IdempotencyRecord): Promise<boolean> {
    const result = await this.query(
      `UPDATE idempotency_keys SET record = $2, expires_at = now() + ($4 || ' milliseconds')::interval
       WHERE key = $1 AND record->>'owner' = $3`,
      [key, JSON.stringify(record), record.owner, String(IDEMPOTENCY_TTL_MS)],
    );
    return result.rowCount === 1;
  }

  async release(key: string, owner: string): Promise<void> {
    await this.query(`DELETE FROM idempotency_keys WHERE key = $1 AND record->>'owner' = $2`, [key, owner]);
  }

  async close(): Promise<void> {}
}
