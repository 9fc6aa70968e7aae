import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openRevocationStore, openStores } from '../src/open.ts';
import { MIGRATIONS } from '../src/postgres/schema.ts';
import { RedisRevocationStore } from '../src/redis/revocations.ts';
import type { RevocationStore } from '../src/revocations.ts';

const HOUR = 3_600_000;

/** What every backend must do; `open` gives a new connection to the same store each time. */
function describeRevocationContract(name: string, open: () => Promise<RevocationStore>, skip = false) {
  const title = `revoked tokens on ${name} (hostile-test defect 9B)`;
  describe.skipIf(skip)(skip ? `${title} — skipped: no Redis answers at REDIS_URL` : title, () => {
    let store: RevocationStore;
    beforeAll(async () => {
      store = await open();
    });
    afterAll(async () => {
      await store.close();
    });

    test('a revocation is listed, with when and why, until its expiry', async () => {
      const now = Date.now();
      const jti = randomUUID();
      await store.revoke({ jti, expiresAt: now + HOUR, revokedAt: now, reason: 'laptop stolen' });
      expect(await store.list(now)).toContainEqual({
        jti,
        expiresAt: now + HOUR,
        revokedAt: now,
        reason: 'laptop stolen',
      });
      expect((await store.list(now + HOUR)).map((t) => t.jti)).not.toContain(jti);
    });

    test('without a reason, none is listed', async () => {
      const now = Date.now();
      const jti = randomUUID();
      await store.revoke({ jti, expiresAt: now + HOUR, revokedAt: now });
      const entry = (await store.list(now)).find((t) => t.jti === jti);
      expect(entry).toEqual({ jti, expiresAt: now + HOUR, revokedAt: now });
    });

    test('revoking again keeps the first time and reason, and the later expiry', async () => {
      const now = Date.now();
      const jti = randomUUID();
      await store.revoke({ jti, expiresAt: now + HOUR, revokedAt: now, reason: 'first' });
      await store.revoke({ jti, expiresAt: now + 2 * HOUR, revokedAt: now + 10, reason: 'second' });
      await store.revoke({ jti, expiresAt: now + HOUR / 2, revokedAt: now + 20, reason: 'third' });
      const entries = (await store.list(now)).filter((t) => t.jti === jti);
      expect(entries).toEqual([{ jti, expiresAt: now + 2 * HOUR, revokedAt: now, reason: 'first' }]);
    });

    test('entries past their expiry are dropped when another is revoked', async () => {
      const now = Date.now();
      const old = randomUUID();
      await store.revoke({ jti: old, expiresAt: now + 1_000, revokedAt: now });
      expect((await store.list(0)).map((t) => t.jti)).toContain(old);
      await store.revoke({ jti: randomUUID(), expiresAt: now + 3 * HOUR, revokedAt: now + 2_000 });
      expect((await store.list(0)).map((t) => t.jti)).not.toContain(old);
    });

    test('another connection (the CLI, another service process) sees the revocation', async () => {
      const now = Date.now();
      const jti = randomUUID();
      const other = await open();
      try {
        await other.revoke({ jti, expiresAt: now + HOUR, revokedAt: now, reason: 'from the CLI' });
      } finally {
        await other.close();
      }
      expect((await store.list(now)).map((t) => t.jti)).toContain(jti);
    });
  });
}

const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-revocations-'));
afterAll(() => fs.rmSync(tempDir, { recursive: true, force: true }));

describeRevocationContract('SQLite', () =>
  openRevocationStore({ eventStoreUrl: `sqlite:${path.join(tempDir, 'ptce.db')}`, dataDir: tempDir }),
);

// PostgreSQL: a database of this file's own, dropped afterwards.
const maintenanceUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = `ptce_revoked_${randomBytes(6).toString('hex')}`;
const pgUrl = Object.assign(new URL(maintenanceUrl), { pathname: `/${database}` }).toString();

async function maintenance(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

beforeAll(() => maintenance(`CREATE DATABASE ${database}`));
afterAll(() => maintenance(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));

describeRevocationContract('PostgreSQL', () =>
  openRevocationStore({ eventStoreUrl: pgUrl, dataDir: tempDir }),
);

// Redis: keys under a prefix of this file's own, deleted afterwards. The run's global setup found
// no Redis (outside CI, where that fails the run instead): skipped, and said so.
const noRedis = process.env.PTCE_TEST_REDIS === 'absent';
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = `ptce-test-revoked-${process.pid}-${randomBytes(4).toString('hex')}:`;
const clients: Redis[] = [];
afterAll(async () => {
  for (const client of clients) client.disconnect();
  if (noRedis) return;
  const admin = new Redis(redisUrl);
  const keys = await admin.keys(`${prefix}*`);
  if (keys.length > 0) await admin.del(...keys);
  await admin.quit();
});

describeRevocationContract(
  'Redis',
  async () => {
    const client = new Redis(redisUrl);
    clients.push(client);
    return new RedisRevocationStore(client, prefix);
  },
  noRedis,
);

/** What the services of a deployment read: the revocations of the stores they open. */
async function listedBy(url: string, dataDir: string, redis?: Redis): Promise<string[]> {
  const stores = await openStores(url, { dataDir, ...(redis ? { redis } : {}) });
  try {
    return (await stores.revocations.list(Date.now())).map((t) => t.jti);
  } finally {
    await stores.close();
  }
}

describe('openRevocationStore writes where the services read, beside the events (hostile-test defect 9B)', () => {
  test('SQLite event store: the events file itself, no other file in DATA_DIR', async () => {
    const dataDir = fs.mkdtempSync(path.join(tempDir, 'data-'));
    const url = `sqlite:${path.join(dataDir, 'ptce.db')}`;
    const store = await openRevocationStore({ eventStoreUrl: url, dataDir });
    await store.revoke({ jti: 'j1', expiresAt: Date.now() + HOUR, revokedAt: Date.now() });
    await store.close();
    expect(fs.readdirSync(dataDir).filter((name) => !name.startsWith('ptce.db'))).toEqual([]);
    expect(await listedBy(url, dataDir)).toEqual(['j1']);
  });

  test('PostgreSQL event store: the same database, its table made by the migrations', async () => {
    const store = await openRevocationStore({ eventStoreUrl: pgUrl, dataDir: tempDir });
    const jti = randomUUID();
    await store.revoke({ jti, expiresAt: Date.now() + HOUR, revokedAt: Date.now() });
    await store.close();
    expect(await listedBy(pgUrl, tempDir)).toContain(jti);
    const client = new pg.Client({ connectionString: pgUrl });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT max(version) AS version FROM schema_migrations');
      expect(rows[0]?.version).toBe(MIGRATIONS.length);
    } finally {
      await client.end();
    }
  });

  test.skipIf(noRedis)('KurrentDB with Redis: Redis, and no file in DATA_DIR', async () => {
    // Database 15, and only this test's own jti removed afterwards: the default prefix is shared.
    const url = new URL(redisUrl);
    url.pathname = '/15';
    const redis = new Redis(url.toString());
    clients.push(redis);
    const dataDir = fs.mkdtempSync(path.join(tempDir, 'kdb-redis-'));
    const jti = `revocations-test-${process.pid}-${randomUUID()}`;
    // Nothing listens there: the revoked tokens never need the event store itself.
    const kurrent = 'kurrentdb://127.0.0.1:1?tls=false';
    const store = await openRevocationStore({ eventStoreUrl: kurrent, dataDir, redis });
    try {
      await store.revoke({ jti, expiresAt: Date.now() + HOUR, revokedAt: Date.now() });
      await store.close();
      expect((await new RedisRevocationStore(redis).list(Date.now())).map((t) => t.jti)).toContain(jti);
      expect(fs.readdirSync(dataDir)).toEqual([]);
    } finally {
      await redis.zrem('ptce:revoked:jti', jti);
      await redis.hdel('ptce:revoked:details', jti);
    }
  });

  test('KurrentDB without Redis: the SQLite file idempotency.db in DATA_DIR', async () => {
    const dataDir = fs.mkdtempSync(path.join(tempDir, 'kdb-'));
    const store = await openRevocationStore({ eventStoreUrl: 'esdb://127.0.0.1:1?tls=false', dataDir });
    await store.revoke({ jti: 'k1', expiresAt: Date.now() + HOUR, revokedAt: Date.now() });
    await store.close();
    expect(fs.existsSync(path.join(dataDir, 'idempotency.db'))).toBe(true);
    const again = await openRevocationStore({ eventStoreUrl: 'esdb://127.0.0.1:1?tls=false', dataDir });
    expect((await again.list(Date.now())).map((t) => t.jti)).toEqual(['k1']);
    await again.close();
  });

  test('a SQLite event store never goes to Redis, even when it is configured', async () => {
    // Never connected, no offline queue: a command sent to it would fail at once.
    const redis = new Redis(redisUrl, { lazyConnect: true, enableOfflineQueue: false });
    clients.push(redis);
    const store = await openRevocationStore({ eventStoreUrl: 'sqlite::memory:', dataDir: tempDir, redis });
    await store.revoke({ jti: 'm1', expiresAt: Date.now() + HOUR, revokedAt: Date.now() });
    expect((await store.list(Date.now())).map((t) => t.jti)).toEqual(['m1']);
    await store.close();
    expect(redis.status).toBe('wait');
  });
});
