import type pg from 'pg';
import type { CheckpointStore, StoredCheckpoint } from '../checkpoints.ts';

/** On the event store's pool, in the table its migrations made; the pool's owner closes it. */
export class PostgresCheckpointStore implements CheckpointStore {
  constructor(private readonly pool: pg.Pool) {}

  async record(c: StoredCheckpoint): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO chain_checkpoints (ptce_id, digest, taken_at, body, key_id, signature)
       VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (ptce_id, digest) DO NOTHING`,
      [c.ptceId, c.digest, c.takenAt, c.body, c.keyId, c.signature],
    );
    return (rowCount ?? 0) > 0;
  }

  async list(ptceId: string): Promise<StoredCheckpoint[]> {
    // taken_at is text, as signed: a timestamptz would come back reformatted.
    const { rows } = await this.pool.query<StoredCheckpoint>(
      `SELECT ptce_id AS "ptceId", digest, taken_at AS "takenAt", body, key_id AS "keyId", signature
       FROM chain_checkpoints WHERE ptce_id = $1 ORDER BY taken_at COLLATE "C", digest COLLATE "C"`,
      [ptceId],
    );
    return rows;
  }

  async ptceIds(): Promise<string[]> {
    const { rows } = await this.pool.query<{ ptce_id: string }>(
      'SELECT DISTINCT ptce_id COLLATE "C" AS ptce_id FROM chain_checkpoints ORDER BY 1',
    );
    return rows.map((row) => row.ptce_id);
  }
}
