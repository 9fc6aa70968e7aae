import type pg from 'pg';

/**
 * One numbered step each, applied in order and recorded in `schema_migrations`, so every process of
 * a deployment agrees on the schema and an older one refuses a database a newer one migrated.
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE events (
     global_position bigserial PRIMARY KEY,
     transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
     stream text NOT NULL,
     revision integer NOT NULL,
     event_id text NOT NULL CONSTRAINT events_event_id UNIQUE,
     type text NOT NULL,
     schema_version integer NOT NULL,
     ptce_id text NOT NULL,
     occurred_at text NOT NULL,
     recorded_at text NOT NULL,
     recorded_by text NOT NULL,
     data text NOT NULL,
     metadata text,
     prev_hash text NOT NULL,
     hash text NOT NULL,
     CONSTRAINT events_stream_revision UNIQUE (stream, revision)
   );
   CREATE INDEX events_log_order ON events (transaction_id, global_position);`,
  // The idempotency keys and the revoked tokens, beside the events. Before this step each store
  // made its own table, with these very columns, outside the migrations: existing rows are kept.
  `CREATE TABLE IF NOT EXISTS idempotency_keys (
     key text PRIMARY KEY, record jsonb NOT NULL, expires_at timestamptz NOT NULL);
   CREATE TABLE IF NOT EXISTS revoked_tokens (
     jti text PRIMARY KEY, expires_at timestamptz NOT NULL, revoked_at timestamptz NOT NULL, reason text);`,
  `CREATE TABLE personal_data_keys (
     subject text PRIMARY KEY, wrapped bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`,
  `CREATE TABLE chain_checkpoints (
     ptce_id text NOT NULL, digest text NOT NULL, taken_at text NOT NULL, body text NOT NULL,
     key_id text NOT NULL, signature text NOT NULL, PRIMARY KEY (ptce_id, digest));`,
];

/** Held for the whole migration: several processes may start at once on a fresh database. */
const MIGRATION_LOCK = 727300001;

/** Brings the database to the newest schema; refuses one newer than this code. */
export async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number | null }>(
      'SELECT max(version) AS version FROM schema_migrations',
    );
    const current = rows[0]?.version ?? 0;
    if (current > MIGRATIONS.length) {
      throw new Error(`postgres: schema version ${current} is newer than this code (${MIGRATIONS.length})`);
    }
    for (let version = current + 1; version <= MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version - 1]!);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version]);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
