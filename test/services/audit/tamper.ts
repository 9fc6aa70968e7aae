import Database from 'better-sqlite3';
import pg from 'pg';

/**
 * Runs one statement on a store's database as a tool outside the server would, behind its back:
 * `url` is the server's EVENT_STORE_URL (`sqlite:<file>` or `postgres://…`), `?` the placeholders.
 */
export async function tamper(url: string, sql: string, params: unknown[]): Promise<void> {
  if (!url.startsWith('sqlite:')) {
    let n = 0;
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query(
        sql.replace(/\?/g, () => `$${++n}`),
        params,
      );
    } finally {
      await client.end();
    }
    return;
  }
  const db = new Database(url.slice('sqlite:'.length));
  try {
    db.prepare(sql).run(...params);
  } finally {
    db.close();
  }
}
