import { randomBytes } from 'node:crypto';
import { GENESIS_HASH, verifyChain } from '@ptce/events';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nowInstant, sealEvent } from '../src/common.ts';
import { StoreUnavailableError } from '../src/errors.ts';
import { openEventStore, openStores } from '../src/open.ts';
import type { EventStore } from '../src/port.ts';
import { columnsOf, INSERT_COLUMNS, UNNEST_ROWS } from '../src/postgres/rows.ts';
import { streamLockKey } from '../src/postgres.ts';
import { describeEventStoreContract, newEvent, streamName } from './contract.ts';

const maintenanceUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const database = `ptce_es_${randomBytes(6).toString('hex')}`;
const url = new URL(maintenanceUrl);
url.pathname = `/${database}`;
const testUrl = url.toString();

async function maintenance<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: maintenanceUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  await maintenance((c) => c.query(`CREATE DATABASE ${database}`));
});
afterAll(async () => {
  await maintenance((c) => c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`));
  await maintenance((c) => c.query(`DROP DATABASE IF EXISTS ${database}_empty WITH (FORCE)`));
});

describeEventStoreContract('postgres', {
  open: () => openEventStore(testUrl, { poolSize: 8 }),
  async unavailable() {
    const store = await openEventStore(testUrl);
    await store.close();
    return store;
  },
  async openEmpty() {
    await maintenance((c) => c.query(`CREATE DATABASE ${database}_empty`));
    const empty = new URL(testUrl);
    empty.pathname = `/${database}_empty`;
    return openEventStore(empty.toString(), { poolSize: 2 });
  },
});

describe('postgres specifics', () => {
  let store: EventStore;
  beforeAll(async () => {
    store = await openEventStore(testUrl, { poolSize: 4 });
  });
  afterAll(async () => {
    await store.close();
  });

  it('answers StoreUnavailableError when nothing listens on the port', async () => {
    const closed = new URL(testUrl);
    closed.port = '1';
    await expect(openEventStore(closed.toString())).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('survives its connections being terminated, writing each append whole or not at all', async () => {
    const stream = streamName();
    await store.append(stream, [newEvent()], { expectedRevision: 'no_stream' });
    const terminate = () =>
      maintenance((c) =>
        c.query(
          'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
          [database],
        ),
      );
    const batches = Array.from({ length: 20 }, () => Array.from({ length: 50 }, () => newEvent()));
    const outcomes = await Promise.all([
      ...batches.map((batch) =>
        store.append(stream, batch, { expectedRevision: 'any' }).then(
          () => 'written' as const,
          (error: unknown) => {
            expect(error).toBeInstanceOf(StoreUnavailableError);
            return 'unavailable' as const;
          },
        ),
      ),
      terminate().then(() => 'terminated' as const),
    ]);
    const events = await store.readStream(stream);
    const stored = new Set(events.map((e) => e.eventId));
    batches.forEach((batch, i) => {
      const present = batch.filter((e) => stored.has(e.eventId)).length;
      expect(present === 0 || present === batch.length).toBe(true);
      if (outcomes[i] === 'written') expect(present).toBe(batch.length);
    });
    expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
    await store.ping();
  });

  /** Holds a stream's append lock from another session, as a concurrent append would, until released. */
  async function holdLock(stream: string, mode: 'shared' | 'exclusive') {
    const client = new pg.Client({ connectionString: testUrl });
    await client.connect();
    await client.query('BEGIN');
    const [high, low] = streamLockKey(stream);
    const lock = mode === 'shared' ? 'pg_advisory_xact_lock_shared' : 'pg_advisory_xact_lock';
    await client.query(`SELECT ${lock}($1::int, $2::int)`, [high, low]);
    return async () => {
      await client.query('COMMIT');
      await client.end();
    };
  }

  function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
    return Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
    ]);
  }

  it('headPosition and a read by types stop before a transaction that may still commit', async () => {
    const type = `Late-${streamName('T')}`;
    const held = new pg.Client({ connectionString: testUrl });
    await held.connect();
    try {
      // An append of another session, begun first, that commits after the next one.
      const lateStream = streamName('late');
      const late = sealEvent(lateStream, 0, nowInstant(), GENESIS_HASH, newEvent({ type }));
      await held.query('BEGIN');
      await held.query(
        `INSERT INTO events (${INSERT_COLUMNS}) SELECT * FROM ${UNNEST_ROWS}`,
        columnsOf([late]),
      );
      const before = await store.headPosition();
      const stream = streamName();
      const early = await store.append(stream, [newEvent({ type })], { expectedRevision: 'no_stream' });
      const head = await store.headPosition();
      expect(head).toBe(before);
      expect(head === null || head < early.position).toBe(true);
      expect(await store.readAll({ after: head ?? undefined, types: [type] })).toEqual([]);
      await held.query('COMMIT');
      const read = await store.readAll({ after: head ?? undefined, types: [type] });
      expect(read.map((e) => e.eventId)).toEqual([late.eventId, early.events[0]!.eventId]);
      expect(await store.headPosition()).toBe(read[1]!.position);
    } finally {
      await held.end();
    }
  });

  it('a plain append waits while an append checking its stream holds that stream', async () => {
    const stream = streamName();
    await store.append(stream, [newEvent()], { expectedRevision: 'no_stream' });
    const release = await holdLock(stream, 'shared');
    const append = store.append(stream, [newEvent()], { expectedRevision: 0 });
    expect(await settlesWithin(append, 500)).toBe(false);
    await release();
    await expect(append).resolves.toMatchObject({ nextRevision: 1 });
  });

  it('a guarded append waits while an append holds a stream it checks, then sees that append', async () => {
    const target = streamName('t');
    const other = streamName('y');
    await store.append(other, [newEvent()], { expectedRevision: 'no_stream' });
    const release = await holdLock(other, 'exclusive');
    const guarded = store.append(target, [newEvent()], {
      expectedRevision: 'no_stream',
      alsoExpected: { [other]: 0 },
    });
    expect(await settlesWithin(guarded, 500)).toBe(false);
    await release();
    await expect(guarded).resolves.toMatchObject({ nextRevision: 0 });
    // Two appends that only check a stream do not wait for each other.
    const releaseShared = await holdLock(other, 'shared');
    const alongside = store.append(target, [newEvent()], {
      expectedRevision: 0,
      alsoExpected: { [other]: 0 },
    });
    expect(await settlesWithin(alongside, 2_000)).toBe(true);
    await releaseShared();
    await expect(alongside).resolves.toMatchObject({ nextRevision: 1 });
  });

  it('contended `any` appends lose a race at most once each, from one store or two', async () => {
    const other = await openEventStore(testUrl, { poolSize: 4 });
    const stream = streamName('hot');
    // Sequence values are taken by every insert attempt, committed or not: what the appends took
    // beyond the rows they wrote counts the inserts that lost the race for a revision.
    const sequence = async () => {
      const client = new pg.Client({ connectionString: testUrl });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: string }>(
          'SELECT last_value::text AS n FROM events_global_position_seq',
        );
        return BigInt(rows[0]!.n);
      } finally {
        await client.end();
      }
    };
    const writers = 6;
    const appendsEach = 8;
    const total = 2 * writers * appendsEach;
    const before = await sequence();
    await Promise.all(
      [store, other].flatMap((s) =>
        Array.from({ length: writers }, async () => {
          for (let i = 0; i < appendsEach; i++) {
            await s.append(stream, [newEvent()], { expectedRevision: 'any' });
          }
        }),
      ),
    );
    const lost = Number((await sequence()) - before) - total;
    await other.close();
    const events = await store.readStream(stream);
    expect(events.map((e) => e.revision)).toEqual(events.map((_, i) => i));
    expect(events).toHaveLength(total);
    expect(verifyChain(events)).toEqual({ ok: true });
    // Re-reading the head and trying again after a lost race lost 216 races for these 96 appends.
    expect(lost).toBeLessThanOrEqual(total);
  });

  it('two stores on one database: a subscriber on one sees appends made through the other', async () => {
    const other = await openEventStore(testUrl, { poolSize: 2 });
    const stream = streamName();
    const seen: string[] = [];
    const sub = store.subscribe((e) => {
      if (e.stream === stream) seen.push(e.eventId);
    });
    const { events } = await other.append(stream, [newEvent(), newEvent()], {
      expectedRevision: 'no_stream',
    });
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await sub.stop();
    await other.close();
    expect(seen).toEqual(events.map((e) => e.eventId));
  });
});

describe('postgres idempotency keys', () => {
  it('reopening the stores removes the keys that have expired, and only those', async () => {
    const first = await openStores(testUrl, { poolSize: 2 });
    const record = (fingerprint: string) => ({
      fingerprint,
      state: 'pending' as const,
      stream: 'membership-p',
      createdAt: Date.now(),
      owner: 'attempt',
    });
    await first.idempotency.reserve('expired', record('a'));
    await first.idempotency.reserve('live', record('b'));
    await first.close();
    const sql = new pg.Client({ connectionString: testUrl });
    await sql.connect();
    await sql.query(
      "UPDATE idempotency_keys SET expires_at = now() - interval '1 second' WHERE key = 'expired'",
    );
    const reopened = await openStores(testUrl, { poolSize: 2 });
    await reopened.close();
    const { rows } = await sql.query<{ key: string }>('SELECT key FROM idempotency_keys ORDER BY key');
    await sql.end();
    expect(rows.map((r) => r.key)).toEqual(['live']);
  });
});
