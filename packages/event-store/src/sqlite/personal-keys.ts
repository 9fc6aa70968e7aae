import type Database from 'better-sqlite3';
import type { PersonalKeyStore } from '../personal-keys.ts';

/**
 * On the connection of the events' file, whose migrations made the table and which runs with
 * `secure_delete` on (see `openSqliteDatabase`): a deleted key is overwritten with zeros in its
 * page, not left in free space.
 */
export class SqlitePersonalKeyStore implements PersonalKeyStore {
  private readonly select: Database.Statement<[string], Buffer>;
  private readonly insert: Database.Statement<[string, Buffer, number]>;
  private readonly remove: Database.Statement<[string]>;

  constructor(private readonly db: Database.Database) {
    this.select = db
      .prepare<[string], Buffer>('SELECT wrapped FROM personal_data_keys WHERE subject = ?')
      .pluck();
    this.insert = db.prepare(
      'INSERT INTO personal_data_keys (subject, wrapped, created_at) VALUES (?, ?, ?) ON CONFLICT (subject) DO NOTHING',
    );
    this.remove = db.prepare('DELETE FROM personal_data_keys WHERE subject = ?');
  }

  async find(subjects: readonly string[]): Promise<Map<string, Buffer>> {
    const found = new Map<string, Buffer>();
    for (const subject of subjects) {
      const wrapped = this.select.get(subject);
      if (wrapped) found.set(subject, wrapped);
    }
    return found;
  }

  async obtain(subject: string, candidate: Buffer): Promise<Buffer> {
    const stored = (await this.obtainMany(new Map([[subject, candidate]]))).get(subject);
    if (!stored) throw new Error(`the data key of ${subject} was destroyed while it was being created`);
    return stored;
  }

  async obtainMany(candidates: ReadonlyMap<string, Buffer>): Promise<Map<string, Buffer>> {
    const now = Date.now();
    return this.db.transaction(() => {
      const stored = new Map<string, Buffer>();
      for (const [subject, candidate] of candidates) {
        this.insert.run(subject, candidate, now);
        const wrapped = this.select.get(subject);
        if (wrapped) stored.set(subject, wrapped);
      }
      return stored;
    })();
  }

  async destroy(subject: string): Promise<boolean> {
    const { changes } = this.remove.run(subject);
    // The page as it was before the delete is still a frame of the WAL until a checkpoint copies
    // the newer one over and the WAL is truncated. A reader holding an old snapshot keeps that
    // frame alive: try again shortly, then say so rather than claim the key is gone.
    for (let attempt = 0; ; attempt++) {
      const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[];
      if (!result || result.busy === 0) break;
      if (attempt === 20) {
        throw new Error(
          'the WAL could not be truncated: a reader kept it busy; the key row is deleted, retry the erasure',
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return changes > 0;
  }
}
