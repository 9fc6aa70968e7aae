import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { openStores } from '../src/open.ts';
import type { PersonalKeyStore } from '../src/personal-keys.ts';
import { RedisPersonalKeyStore } from '../src/redis/personal-keys.ts';

const DATABASE_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

interface Harness {
  readonly keys: PersonalKeyStore;
  close(): Promise<void>;
}

/** What every store of natural persons' data keys must do. */
function contract(name: string, open: () => Promise<Harness>) {
  describe(name, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await open();
    });
    afterAll(() => h.close());

    test('a key is created once: a second candidate gets the first one back', async () => {
      const first = randomBytes(60);
      expect(await h.keys.obtain('p/alice', first)).toEqual(first);
      expect(await h.keys.obtain('p/alice', randomBytes(60))).toEqual(first);
      expect(await h.keys.find(['p/alice', 'p/nobody'])).toEqual(new Map([['p/alice', first]]));
    });

    test('concurrent first uses agree on one key', async () => {
      const candidates = Array.from({ length: 8 }, () => randomBytes(60));
      const got = await Promise.all(candidates.map((c) => h.keys.obtain('p/race', c)));
      expect(new Set(got.map((k) => k.toString('hex'))).size).toBe(1);
    });

    test('several keys made at once keep those already there', async () => {
      const dave = randomBytes(60);
      await h.keys.obtain('p/dave', dave);
      const erin = randomBytes(60);
      const got = await h.keys.obtainMany(
        new Map([
          ['p/dave', randomBytes(60)],
          ['p/erin', erin],
        ]),
      );
      expect(got).toEqual(
        new Map([
          ['p/dave', dave],
          ['p/erin', erin],
        ]),
      );
      expect(await h.keys.obtainMany(new Map())).toEqual(new Map());
    });

    test('a destroyed key is gone, and only that one', async () => {
      const bob = randomBytes(60);
      await h.keys.obtain('p/bob', bob);
      await h.keys.obtain('p/carol', randomBytes(60));
      expect(await h.keys.destroy('p/bob')).toBe(true);
      expect(await h.keys.destroy('p/bob')).toBe(false);
      const left = await h.keys.find(['p/bob', 'p/carol']);
      expect([...left.keys()]).toEqual(['p/carol']);
      expect(await h.keys.find([])).toEqual(new Map());
    });
  });
}

let dir: string;
contract('SQLite file', async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-personal-keys-'));
  const stores = await openStores(`sqlite:${path.join(dir, 'keys.db')}`);
  return {
    keys: stores.personalKeys,
    close: async () => {
      await stores.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

contract('PostgreSQL', async () => {
  const database = `ptce_personal_keys_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${database}`;
  const stores = await openStores(url.toString(), { poolSize: 4 });
  return {
    keys: stores.personalKeys,
    close: async () => {
      await stores.close();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    },
  };
});

describe('PostgreSQL, processes of one deployment starting together', () => {
  test("a key another process commits while this one waits on it is that process's key", async () => {
    const database = `ptce_personal_keys_${randomBytes(6).toString('hex')}`;
    const admin = new pg.Client({ connectionString: DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(DATABASE_URL);
    url.pathname = `/${database}`;
    const stores = await openStores(url.toString(), { poolSize: 2 });
    const other = new pg.Client({ connectionString: url.toString() });
    await other.connect();
    try {
      const theirs = randomBytes(60);
      await other.query('BEGIN');
      await other.query('INSERT INTO personal_data_keys (subject, wrapped) VALUES ($1, $2)', [
        'p/late',
        theirs,
      ]);
      const obtained = stores.personalKeys.obtain('p/late', randomBytes(60));
      // Until the other process commits, this insert waits on its row.
      await new Promise((resolve) => setTimeout(resolve, 200));
      await other.query('COMMIT');
      expect(await obtained).toEqual(theirs);
    } finally {
      await other.end();
      await stores.close();
      await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
      await admin.end();
    }
  });
});

contract('Redis (KurrentDB deployments)', async () => {
  const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  const hash = `ptce-test-personal-keys:${randomBytes(6).toString('hex')}`;
  return {
    keys: new RedisPersonalKeyStore(redis, hash),
    close: async () => {
      await redis.del(hash);
      redis.disconnect();
    },
  };
});
