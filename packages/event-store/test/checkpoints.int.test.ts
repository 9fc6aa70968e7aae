import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CheckpointStore, StoredCheckpoint } from '../src/checkpoints.ts';
import { openStores } from '../src/open.ts';
import { RedisCheckpointStore } from '../src/redis/checkpoints.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Harness {
  readonly checkpoints: CheckpointStore;
  close(): Promise<void>;
}

const checkpoint = (ptceId: string, digest: string, takenAt: string): StoredCheckpoint => ({
  ptceId,
  digest,
  takenAt,
  body: JSON.stringify({
    ptceId,
    takenAt,
    heads: [{ stream: `membership-${ptceId}`, revision: 1, hash: digest }],
  }),
  keyId: 'k'.repeat(43),
  signature: randomBytes(64).toString('base64url'),
});

/** What every store of signed checkpoints must do. */
function contract(name: string, open: () => Promise<Harness>) {
  describe(name, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await open();
    });
    afterAll(() => h.close());

    test('keeps each checkpoint as given, the first of the same digest only, listed oldest first', async () => {
      const later = checkpoint('p1', 'b'.repeat(64), '2026-11-30T10:00:00.000Z');
      const earlier = checkpoint('p1', 'a'.repeat(64), '2026-11-29T10:00:00.000Z');
      expect(await h.checkpoints.record(later)).toBe(true);
      expect(await h.checkpoints.record(earlier)).toBe(true);
      expect(await h.checkpoints.record({ ...later, takenAt: '2026-12-01T00:00:00.000Z' })).toBe(false);
      await h.checkpoints.record(checkpoint('p2', 'c'.repeat(64), '2026-11-28T10:00:00.000Z'));
      expect(await h.checkpoints.list('p1')).toEqual([earlier, later]);
      expect(await h.checkpoints.list('nowhere')).toEqual([]);
      expect(await h.checkpoints.ptceIds()).toEqual(['p1', 'p2']);
    });

    test('taken at the same instant: the digest orders them, the same way on every store', async () => {
      const at = '2026-11-30T12:00:00.000Z';
      const second = checkpoint('p3', 'f'.repeat(64), at);
      const first = checkpoint('p3', 'e'.repeat(64), at);
      await h.checkpoints.record(second);
      await h.checkpoints.record(first);
      expect(await h.checkpoints.list('p3')).toEqual([first, second]);
    });
  });
}

let dir: string;
contract('SQLite file', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-checkpoints-'));
  const stores = await openStores(`sqlite:${path.join(dir, 'checkpoints.db')}`);
  return {
    checkpoints: stores.checkpoints,
    close: async () => {
      await stores.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

contract('PostgreSQL', async () => {
  const database = `ptce_checkpoints_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  const stores = await openStores(url.toString(), { poolSize: 2 });
  return {
    checkpoints: stores.checkpoints,
    close: async () => {
      await stores.close();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
});

contract('Redis (KurrentDB deployments)', async () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const prefix = `ptce-test-checkpoints:${randomBytes(6).toString('hex')}`;
  return {
    checkpoints: new RedisCheckpointStore(redis, prefix),
    close: async () => {
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    },
  };
});
