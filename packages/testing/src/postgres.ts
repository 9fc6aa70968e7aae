import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const MAINTENANCE_DATABASE_URL =
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TempDatabase {
  readonly url: string;
  drop(): Promise<void>;
}

/** A database of its own for one test file, so files run in parallel and runs never collide. */
export async function createTempDatabase(prefix = 'ptce_test'): Promise<TempDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const url = new URL(MAINTENANCE_DATABASE_URL);
  url.pathname = `/${name}`;
  await maintenance((client) => client.query(`CREATE DATABASE ${name}`));
  return {
    url: url.toString(),
    drop: () =>
      maintenance((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).then(() => {}),
  };
}

async function maintenance<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: MAINTENANCE_DATABASE_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Casts every event's data and metadata of the store at `url` to jsonb, as reports and ad hoc
 * queries do: a single NUL stored in any of them makes the cast fail for the whole table.
 * Answers how many events were cast.
 */
export async function castEventsToJsonb(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: string }>(
      'SELECT count(*) AS n FROM events WHERE data::jsonb IS NOT NULL AND (metadata IS NULL OR metadata::jsonb IS NOT NULL)',
    );
    return Number(rows[0]?.n ?? 0);
  } finally {
    await client.end();
  }
}
