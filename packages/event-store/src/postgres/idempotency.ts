import type pg from 'pg';
import {
  IDEMPOTENCY_TTL_MS,
  type IdempotencyRecord,
  type IdempotencyStore,
  type KeyedRecord,
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

  async getMany(keys: readonly string[]): Promise<(IdempotencyRecord | null)[]> {
    if (keys.length === 0) return [];
    const { rows } = await this.query<{ key: string; record: IdempotencyRecord }>(
      'SELECT key, record FROM idempotency_keys WHERE key = ANY($1::text[]) AND expires_at >= now()',
      [keys],
    );
    const byKey = new Map(rows.map((row) => [row.key, row.record]));
    return keys.map((key) => byKey.get(key) ?? null);
  }

  async reserveMany(entries: readonly KeyedRecord[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const keys = entries.map((e) => e.key);
    // One statement each, not one per key: the whole file's keys in two round trips.
    await this.query('DELETE FROM idempotency_keys WHERE key = ANY($1::text[]) AND expires_at < now()', [
      keys,
    ]);
    const { rows } = await this.query<{ key: string }>(
      `INSERT INTO idempotency_keys (key, record, expires_at)
       SELECT k, r, now() + ($3 || ' milliseconds')::interval FROM unnest($1::text[], $2::jsonb[]) AS u(k, r)
       ON CONFLICT (key) DO NOTHING RETURNING key`,
      [keys, entries.map((e) => JSON.stringify(e.record)), String(IDEMPOTENCY_TTL_MS)],
    );
    const reserved = new Set(rows.map((row) => row.key));
    // A key given twice is inserted once: only its first entry holds it, as on the other stores.
    return keys.map((key, i) => reserved.has(key) && keys.indexOf(key) === i);
  }

  async completeMany(entries: readonly KeyedRecord[]): Promise<boolean[]> {
    if (entries.length === 0) return [];
    const { rows } = await this.query<{ key: string }>(
      `UPDATE idempotency_keys AS k SET record = u.r, expires_at = now() + ($4 || ' milliseconds')::interval
       FROM unnest($1::text[], $2::jsonb[], $3::text[]) AS u(key, r, owner)
       WHERE k.key = u.key AND k.record->>'owner' = u.owner RETURNING k.key`,
      [
        entries.map((e) => e.key),
        entries.map((e) => JSON.stringify(e.record)),
        entries.map((e) => e.record.owner),
        String(IDEMPOTENCY_TTL_MS),
      ],
    );
    const saved = new Set(rows.map((row) => row.key));
    return entries.map((e) => saved.has(e.key));
  }

  async close(): Promise<void> {}
}
