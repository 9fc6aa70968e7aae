import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { StoreUnavailableError } from '../src/errors.ts';
import { IDEMPOTENCY_TTL_MS, type IdempotencyRecord, type IdempotencyStore } from '../src/idempotency.ts';
import { openStores } from '../src/open.ts';
import type { Stores } from '../src/port.ts';
import { PostgresIdempotencyStore } from '../src/postgres.ts';
import { RedisIdempotencyStore } from '../src/redis/idempotency.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const pending = (fingerprint = 'f1'): IdempotencyRecord => ({
  fingerprint,
  state: 'pending',
  stream: 'membership-p',
  createdAt: 1_700_000_000_000,
  owner: 'attempt-1',
});
const done = (fingerprint = 'f1'): IdempotencyRecord => ({
  ...pending(fingerprint),
  state: 'done',
  response: { status: 201, body: { eventIds: ['e1'], position: '1', revision: 0, ptceId: 'p' }, etag: '"0"' },
});

interface Harness {
  readonly store: IdempotencyStore;
  /** Makes the key's record older than the time keys are kept. */
  expire(key: string): Promise<void>;
  /** Closes the store and what it shares its connection with. */
  close(): Promise<void>;
}

/** What every store must do, whatever it keeps its keys in. */
function contract(
  name: string,
  open: () => Promise<Harness>,
  cleanup: () => Promise<void> = async () => {},
  skip = false,
) {
  describe.skipIf(skip)(skip ? `${name} — skipped: no Redis answers at REDIS_URL` : name, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await open();
    });
    afterAll(async () => {
      await h.close();
      await cleanup();
    });

    test('an absent key is null', async () => {
      expect(await h.store.get('absent')).toBeNull();
    });

    test('a key is reserved once; the reservation is what get returns', async () => {
      expect(await h.store.reserve('k1', pending())).toBe(true);
      expect(await h.store.reserve('k1', pending('other'))).toBe(false);
      expect(await h.store.get('k1')).toEqual(pending());
    });

    test('of concurrent reservations exactly one wins', async () => {
      const won = await Promise.all(
        Array.from({ length: 8 }, (_, i) => h.store.reserve('race', pending(`f${i}`))),
      );
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = won.indexOf(true);
      expect((await h.store.get('race'))?.fingerprint).toBe(`f${winner}`);
    });

    test('complete stores the answer; the key then stays taken', async () => {
      await h.store.reserve('k2', pending());
      await h.store.complete('k2', done());
      expect(await h.store.get('k2')).toEqual(done());
      expect(await h.store.reserve('k2', pending())).toBe(false);
    });

    test('release frees the key for another reservation', async () => {
      await h.store.reserve('k3', pending());
      await h.store.release('k3', 'attempt-1');
      expect(await h.store.get('k3')).toBeNull();
      expect(await h.store.reserve('k3', pending('again'))).toBe(true);
      expect((await h.store.get('k3'))?.fingerprint).toBe('again');
    });

    test('takeover race: of concurrent takeovers of an abandoned record exactly one wins', async () => {
      await h.store.reserve('stale', pending());
      const stale = await h.store.get('stale');
      if (!stale) throw new Error('no record');
      const attempts = Array.from({ length: 6 }, (_, i) => ({
        ...pending(),
        owner: `retry-${i}`,
        createdAt: stale.createdAt + 31_000,
      }));
      const won = await Promise.all(attempts.map((record) => h.store.takeOver('stale', stale, record)));
      expect(won.filter(Boolean)).toHaveLength(1);
      const winner = attempts[won.indexOf(true)];
      expect(await h.store.get('stale')).toEqual(winner);
      // The record it replaced is gone: taking it over again from that stale copy fails.
      expect(await h.store.takeOver('stale', stale, { ...pending(), owner: 'late' })).toBe(false);
    });

    test('takeover race: complete and release act only for the owner still holding the key', async () => {
      await h.store.reserve('owned', pending());
      const stale = await h.store.get('owned');
      if (!stale) throw new Error('no record');
      const successor = { ...pending(), owner: 'attempt-2' };
      expect(await h.store.takeOver('owned', stale, successor)).toBe(true);
      // The first attempt, still alive, can neither free nor overwrite what the successor holds.
      await h.store.release('owned', 'attempt-1');
      expect(await h.store.complete('owned', done())).toBe(false);
      expect(await h.store.get('owned')).toEqual(successor);
      const answered = { ...done(), owner: 'attempt-2' };
      expect(await h.store.complete('owned', answered)).toBe(true);
      await h.store.release('owned', 'attempt-1');
      expect(await h.store.get('owned')).toEqual(answered);
    });

    test('renew: only the owner of a pending key renews it (hostile-test defect 7)', async () => {
      await h.store.reserve('beat', pending());
      expect(await h.store.renew('beat', 'someone-else', 1_700_000_005_000)).toBe(false);
      expect(await h.store.renew('beat', 'attempt-1', 1_700_000_005_000)).toBe(true);
      expect(await h.store.get('beat')).toEqual({ ...pending(), renewedAt: 1_700_000_005_000 });
      await h.store.complete('beat', done());
      expect(await h.store.renew('beat', 'attempt-1', 1_700_000_009_000)).toBe(false);
      expect(await h.store.renew('absent-key', 'attempt-1', 1_700_000_009_000)).toBe(false);
    });

    test('takeover from a copy read before a renewal fails: the holder is alive', async () => {
      await h.store.reserve('alive', pending());
      const seen = await h.store.get('alive');
      if (!seen) throw new Error('no record');
      await h.store.renew('alive', 'attempt-1', 1_700_000_002_000);
      expect(await h.store.takeOver('alive', seen, { ...pending(), owner: 'retry' })).toBe(false);
      const renewed = await h.store.get('alive');
      if (!renewed) throw new Error('no record');
      expect(await h.store.takeOver('alive', renewed, { ...pending(), owner: 'retry' })).toBe(true);
      expect((await h.store.get('alive'))?.owner).toBe('retry');
    });

    test('the stored form of a key is what the write side stores: a sha-256 in hex (hostile-test defect 1)', async () => {
      // As idempotencyRecordKey (@ptce/write-side) hashes a caller's key: never the key itself.
      const key = createHash('sha256').update('["subject","pg1","plain-key-1"]').digest('hex');
      expect(await h.store.reserve(key, pending())).toBe(true);
      expect(await h.store.get(key)).toEqual(pending());
    });

    test('many keys at once: each reserved once, in order; completed only by its owner; read back in order', async () => {
      await h.store.reserve('m2', pending('taken'));
      const entries = ['m1', 'm2', 'm3'].map((key) => ({ key, record: pending(key) }));
      expect(await h.store.reserveMany(entries)).toEqual([true, false, true]);
      expect(await h.store.reserveMany([])).toEqual([]);
      // A key given twice in one call is held by its first entry only.
      expect(
        await h.store.reserveMany([
          { key: 'm4', record: pending('first') },
          { key: 'm4', record: pending('second') },
        ]),
      ).toEqual([true, false]);
      expect((await h.store.get('m4'))?.fingerprint).toBe('first');
      expect(
        (await h.store.getMany(['m3', 'absent', 'm1', 'm2'])).map((r) => r?.fingerprint ?? null),
      ).toEqual(['m3', null, 'm1', 'taken']);
      const answers = [
        { key: 'm1', record: { ...done('m1') } },
        { key: 'm3', record: { ...done('m3'), owner: 'another-attempt' } },
      ];
      expect(await h.store.completeMany(answers)).toEqual([true, false]);
      expect(await h.store.get('m1')).toEqual(done('m1'));
      expect((await h.store.get('m3'))?.state).toBe('pending');
      expect(await h.store.getMany([])).toEqual([]);
    });

    test('after expiry get is null and the key can be reserved again', async () => {
      await h.store.reserve('k4', pending());
      await h.store.complete('k4', done());
      await h.expire('k4');
      expect(await h.store.get('k4')).toBeNull();
      expect(await h.store.reserve('k4', pending('fresh'))).toBe(true);
      expect((await h.store.get('k4'))?.fingerprint).toBe('fresh');
    });
  });
}

const harness = (stores: Stores, expire: Harness['expire']): Harness => ({
  store: stores.idempotency,
  expire,
  close: () => stores.close(),
});

// SQLite: a fake clock moved past the time keys are kept.
let clock = Date.parse('2024-05-01T00:00:00Z');
contract("SQLite keys, on the event store's connection", async () =>
  harness(await openStores('sqlite::memory:', { now: () => clock }), async () => {
    clock += IDEMPOTENCY_TTL_MS + 1;
  }),
);

describe('SQLite keys in the events file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-idem-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('keys survive a reopen, and are kept at least 24 hours', async () => {
    const url = `sqlite:${path.join(dir, 'nested', 'ptce.db')}`;
    let now = Date.parse('2024-05-01T00:00:00Z');
    const first = await openStores(url, { now: () => now });
    await first.idempotency.reserve('k', pending());
    await first.idempotency.complete('k', done());
    await first.close();
    now += 24 * 60 * 60 * 1000;
    const reopened = await openStores(url, { now: () => now });
    expect(await reopened.idempotency.get('k')).toEqual(done());
    expect(await reopened.idempotency.reserve('k', pending())).toBe(false);
    await reopened.close();
    // Reopening long after removes what has expired.
    now += IDEMPOTENCY_TTL_MS;
    const later = await openStores(url, { now: () => now });
    expect(await later.idempotency.get('k')).toBeNull();
    await later.close();
    expect(fs.readdirSync(path.join(dir, 'nested')).filter((name) => !name.startsWith('ptce.db'))).toEqual(
      [],
    );
  });
});

// PostgreSQL: a database of our own, dropped afterwards, so test files can run in parallel.
const database = `ptce_idem_${randomBytes(6).toString('hex')}`;
const admin = new pg.Client({ connectionString: DATABASE_URL });
let pool: pg.Pool | undefined;
contract(
  "PostgreSQL keys, on the event store's pool",
  async () => {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(DATABASE_URL);
    url.pathname = `/${database}`;
    // The keys' table is made by the event store's migrations, nowhere else.
    const stores = await openStores(url.toString(), { poolSize: 8 });
    pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
    const p = pool;
    return harness(stores, async (key) => {
      await p.query(`UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = $1`, [
        key,
      ]);
    });
  },
  async () => {
    await pool?.end();
    // pool.end() resolves before its sockets are closed; dropping with FORCE then would kill
    // them mid-goodbye and surface as an uncaught error, so wait for them to go first.
    for (let i = 0; i < 100; i++) {
      const { rows } = await admin.query(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1',
        [database],
      );
      if (rows[0]?.n === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await admin.query(`DROP DATABASE IF EXISTS ${database}`);
    await admin.end();
  },
);

// Redis: a random key prefix, every key under it deleted afterwards.
const prefix = `ptce-test-idem:${randomBytes(6).toString('hex')}:`;
const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
contract(
  'Redis keys (KurrentDB)',
  async () => {
    await redis.connect();
    const store = new RedisIdempotencyStore(redis, prefix);
    return {
      store,
      expire: async (key) => {
        expect(await redis.pttl(prefix + key)).toBeGreaterThan(24 * 60 * 60 * 1000);
        await redis.pexpire(prefix + key, 1);
        await new Promise((resolve) => setTimeout(resolve, 20));
      },
      close: () => store.close(),
    };
  },
  async () => {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    await redis.quit();
  },
  // The run's global setup found no Redis (outside CI, where that fails the run instead).
  process.env.PTCE_TEST_REDIS === 'absent',
);

describe('idempotency stores when their backend is unreachable', () => {
  test('PostgreSQL: a terminated idle backend does not crash the process; the next call reconnects', async () => {
    const name = `ptce_idem_term_${randomBytes(6).toString('hex')}`;
    const maintenance = new pg.Client({ connectionString: DATABASE_URL });
    await maintenance.connect();
    await maintenance.query(`CREATE DATABASE ${name}`);
    const url = new URL(DATABASE_URL);
    url.pathname = `/${name}`;
    const stores = await openStores(url.toString());
    const store = stores.idempotency;
    try {
      expect(await store.reserve('t', pending())).toBe(true);
      const { rows } = await maintenance.query<{ n: number }>(
        'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = $1',
        [name],
      );
      expect(rows[0]?.n).toBeGreaterThan(0);
      // Let the pool see its idle client die: unheard, that 'error' event is an uncaught exception.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await store.get('t')).toEqual(pending());
    } finally {
      await stores.close();
      await maintenance.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await maintenance.end();
    }
  });

  test('PostgreSQL: a closed port is StoreUnavailableError, and a later call tries again', async () => {
    // The event store would refuse to open there; a pool that lost its server is the same case.
    const unreachable = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/postgres' });
    const store = new PostgresIdempotencyStore(unreachable);
    try {
      await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.reserve('k', pending())).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await unreachable.end();
    }
  });

  test('Redis: an unreachable server is StoreUnavailableError', async () => {
    const offline = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    const store = new RedisIdempotencyStore(offline, 'ptce-test-offline:');
    try {
      await expect(store.get('k')).rejects.toBeInstanceOf(StoreUnavailableError);
      await expect(store.reserve('k', pending())).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      offline.disconnect();
    }
  });

  test('SQLite: another process holding the write lock is waited for; a closed file is StoreUnavailableError', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-idem-busy-'));
    const file = path.join(dir, 'ptce.db');
    const stores = await openStores(`sqlite:${file}`);
    const store = stores.idempotency;
    // better-sqlite3 waits synchronously: the lock holder must be another process.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        `const db = new (require('better-sqlite3'))(${JSON.stringify(file)}); db.exec('BEGIN IMMEDIATE');
         process.stdout.write('locked'); setTimeout(() => { db.exec('COMMIT'); db.close(); }, 300);`,
      ],
      { cwd: path.dirname(fileURLToPath(import.meta.url)), stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`lock holder exited (${code})`)));
      });
      // Without busy_timeout this is SQLITE_BUSY at once.
      expect(await store.reserve('b', pending())).toBe(true);
      await stores.close();
      await expect(store.get('b')).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      holder.kill();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
