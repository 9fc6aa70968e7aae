import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.ts';
import { openEventStore } from '../src/open.ts';
import type { EventStore } from '../src/port.ts';
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
});

describeEventStoreContract('postgres', {
  open: () => openEventStore(testUrl, { poolSize: 8 }),
  async unavailable() {
    const store = await openEventStore(testUrl);
    await store.close();
    return store;
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
