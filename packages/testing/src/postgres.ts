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
