import type pg from 'pg';
import type { PersonalKeyStore } from '../personal-keys.ts';

/** On the event store's pool, in the table its migrations made; the pool's owner closes it. */
export class PostgresPersonalKeyStore implements PersonalKeyStore {
  constructor(private readonly pool: pg.Pool) {}

  async find(subjects: readonly string[]): Promise<Map<string, Buffer>> {
    if (subjects.length === 0) return new Map();
    const { rows } = await this.pool.query<{ subject: string; wrapped: Buffer }>(
      'SELECT subject, wrapped FROM personal_data_keys WHERE subject = ANY($1::text[])',
      [subjects],
    );
    return new Map(rows.map((row) => [row.subject, row.wrapped]));
  }

  async obtain(subject: string, candidate: Buffer): Promise<Buffer> {
    const { rows } = await this.pool.query<{ wrapped: Buffer }>(
      `WITH inserted AS (
         INSERT INTO personal_data_keys (subject, wrapped) VALUES ($1, $2)
         ON CONFLICT (subject) DO NOTHING RETURNING wrapped)
       SELECT wrapped FROM inserted UNION ALL SELECT wrapped FROM personal_data_keys WHERE subject = $1`,
      [subject, candidate],
    );
    // When another process's insert of the same subject commits while this statement waits on
    // it, DO NOTHING returns no row and the SELECT, seeing the statement's older snapshot, none
    // either: a second statement sees the committed key.
    const stored = rows[0]?.wrapped ?? (await this.find([subject])).get(subject);
    if (!stored) throw new Error(`the data key of ${subject} was destroyed while it was being created`);
    return stored;
  }

  async obtainMany(candidates: ReadonlyMap<string, Buffer>): Promise<Map<string, Buffer>> {
    if (candidates.size === 0) return new Map();
    const subjects = [...candidates.keys()];
    await this.pool.query(
      `INSERT INTO personal_data_keys (subject, wrapped)
       SELECT * FROM unnest($1::text[], $2::bytea[]) ON CONFLICT (subject) DO NOTHING`,
      [subjects, [...candidates.values()]],
    );
    return this.find(subjects);
  }

  async destroy(subject: string): Promise<boolean> {
    const { rowCount } = await this.pool.query('DELETE FROM personal_data_keys WHERE subject = $1', [
      subject,
    ]);
    // A deleted row stays in its page until vacuumed, and a plain VACUUM leaves the bytes in the
    // page's free space: FULL rewrites the table (a few bytes per person) without the dead row.
    await this.pool.query('VACUUM (FULL) personal_data_keys');
    return (rowCount ?? 0) > 0;
  }
}
