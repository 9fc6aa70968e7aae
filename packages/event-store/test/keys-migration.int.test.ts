import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, test } from 'vitest';
import { openRevocationStore, openStores } from '../src/open.ts';
import { MIGRATIONS, MIGRATIONS as POSTGRES_MIGRATIONS } from '../src/postgres/schema.ts';
import { MIGRATIONS as SQLITE_MIGRATIONS } from '../src/sqlite/schema.ts';

const HOUR = 3_600_000;
const now = Date.now();
const record = (owner: string) => ({
  fingerprint: 'f',
  state: 'done',
  stream: 'membership-p',
  createdAt: now,
  owner,
  response: { status: 201, body: {} },
});

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-keys-migration-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** `<dataDir>/idempotency.db` as the earlier version left it: its own tables, no schema version. */
function earlierKeyFile(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(`CREATE TABLE idempotency_keys (key TEXT PRIMARY KEY, record TEXT NOT NULL, expires_at INTEGER NOT NULL);
    CREATE TABLE revoked_tokens (jti TEXT PRIMARY KEY, expires_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL, reason TEXT)`);
  const key = db.prepare('INSERT INTO idempotency_keys VALUES (?, ?, ?)');
  key.run('live-key', JSON.stringify(record('a')), now + HOUR);
  key.run('expired-key', JSON.stringify(record('b')), now - HOUR);
  const revoked = db.prepare('INSERT INTO revoked_tokens VALUES (?, ?, ?, ?)');
  revoked.run('live-jti', now + HOUR, now - HOUR, 'laptop stolen');
  revoked.run('expired-jti', now - 1, now - 2 * HOUR, null);
  return db;
}

describe('upgrading a SQLite deployment whose keys lived in DATA_DIR/idempotency.db', () => {
  test('the live keys and revocations are copied into the events file once, at its migration', async () => {
    const dataDir = fs.mkdtempSync(path.join(dir, 'data-'));
    const events = new Database(path.join(dataDir, 'ptce.db'));
    events.exec(SQLITE_MIGRATIONS[0]!);
    events.pragma('user_version = 1');
    events.close();
    const earlier = earlierKeyFile(path.join(dataDir, 'idempotency.db'));

    const url = `sqlite:${path.join(dataDir, 'ptce.db')}`;
    const stores = await openStores(url, { dataDir });
    try {
      expect(await stores.idempotency.get('live-key')).toEqual(record('a'));
      expect(await stores.idempotency.get('expired-key')).toBeNull();
      expect(await stores.revocations.list(now)).toEqual([
        { jti: 'live-jti', expiresAt: now + HOUR, revokedAt: now - HOUR, reason: 'laptop stolen' },
      ]);
    } finally {
      await stores.close();
    }

    // Written there by a process of the earlier version after the upgrade: not seen.
    earlier.prepare('INSERT INTO revoked_tokens VALUES (?, ?, ?, ?)').run('late-jti', now + HOUR, now, null);
    earlier.close();
    const reopened = await openStores(url, { dataDir });
    try {
      expect((await reopened.revocations.list(now)).map((t) => t.jti)).toEqual(['live-jti']);
    } finally {
      await reopened.close();
    }
  });

  test('a KurrentDB deployment keeps reading the file it had', async () => {
    const dataDir = fs.mkdtempSync(path.join(dir, 'kdb-'));
    earlierKeyFile(path.join(dataDir, 'idempotency.db')).close();
    const store = await openRevocationStore({ eventStoreUrl: 'esdb://127.0.0.1:1?tls=false', dataDir });
    try {
      expect((await store.list(now)).map((t) => t.jti)).toEqual(['live-jti']);
    } finally {
      await store.close();
    }
  });
});

describe('upgrading a PostgreSQL deployment whose keys had tables made outside the migrations', () => {
  const maintenanceUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  const database = `ptce_keys_${randomBytes(6).toString('hex')}`;
  const url = Object.assign(new URL(maintenanceUrl), { pathname: `/${database}` }).toString();
  async function run<T>(connection: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client({ connectionString: connection });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end();
    }
  }
  afterAll(() => run(maintenanceUrl, (c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`)));

  test('the next migration keeps their rows', async () => {
    await run(maintenanceUrl, (c) => c.query(`CREATE DATABASE ${database}`));
    await run(url, async (c) => {
      await c.query(
        'CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
      );
      await c.query(POSTGRES_MIGRATIONS[0]!);
      await c.query('INSERT INTO schema_migrations (version) VALUES (1)');
      await c.query(`CREATE TABLE idempotency_keys (
         key text PRIMARY KEY, record jsonb NOT NULL, expires_at timestamptz NOT NULL)`);
      await c.query(`CREATE TABLE revoked_tokens (
         jti text PRIMARY KEY, expires_at timestamptz NOT NULL, revoked_at timestamptz NOT NULL, reason text)`);
      await c.query(`INSERT INTO idempotency_keys VALUES ('live-key', $1, now() + interval '1 hour')`, [
        JSON.stringify(record('a')),
      ]);
      await c.query('INSERT INTO revoked_tokens VALUES ($1, $2, $3, $4)', [
        'live-jti',
        new Date(now + HOUR),
        new Date(now - HOUR),
        null,
      ]);
    });
    const stores = await openStores(url);
    try {
      expect(await stores.idempotency.get('live-key')).toEqual(record('a'));
      expect((await stores.revocations.list(now)).map((t) => t.jti)).toEqual(['live-jti']);
    } finally {
      await stores.close();
    }
    const versions = await run(url, (c) => c.query('SELECT version FROM schema_migrations ORDER BY version'));
    expect(versions.rows.map((r) => r.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
  });
});
