import type Database from 'better-sqlite3';
import type { CheckpointStore, StoredCheckpoint } from '../checkpoints.ts';

interface Row {
  ptce_id: string;
  digest: string;
  taken_at: string;
  body: string;
  key_id: string;
  signature: string;
}

const fromRow = (row: Row): StoredCheckpoint => ({
  ptceId: row.ptce_id,
  digest: row.digest,
  takenAt: row.taken_at,
  body: row.body,
  keyId: row.key_id,
  signature: row.signature,
});

/** On the connection of the events' file, in the table its migrations made. */
export class SqliteCheckpointStore implements CheckpointStore {
  private readonly insert: Database.Statement<[string, string, string, string, string, string]>;
  private readonly select: Database.Statement<[string], Row>;
  private readonly ids: Database.Statement<[], string>;

  constructor(db: Database.Database) {
    this.insert = db.prepare(
      `INSERT INTO chain_checkpoints (ptce_id, digest, taken_at, body, key_id, signature)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (ptce_id, digest) DO NOTHING`,
    );
    this.ids = db
      .prepare<[], string>('SELECT DISTINCT ptce_id FROM chain_checkpoints ORDER BY ptce_id')
      .pluck();
    this.select = db.prepare('SELECT * FROM chain_checkpoints WHERE ptce_id = ? ORDER BY taken_at, digest');
  }

  async record(c: StoredCheckpoint): Promise<boolean> {
    return this.insert.run(c.ptceId, c.digest, c.takenAt, c.body, c.keyId, c.signature).changes > 0;
  }

  async list(ptceId: string): Promise<StoredCheckpoint[]> {
    return this.select.all(ptceId).map(fromRow);
  }

  async ptceIds(): Promise<string[]> {
    return this.ids.all();
  }
}
