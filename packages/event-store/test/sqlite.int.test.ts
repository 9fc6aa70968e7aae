import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.ts';
import { openEventStore } from '../src/open.ts';
import { describeEventStoreContract, newEvent } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'ptce-sqlite-contract-'));
const file = join(dir, 'events.db');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describeEventStoreContract('sqlite', {
  open: () => openEventStore(`sqlite:${file}`),
  async unavailable() {
    const store = await openEventStore(`sqlite:${join(dir, 'gone.db')}`);
    await store.close();
    return store;
  },
  openEmpty: () => openEventStore(`sqlite:${join(dir, `empty-${Date.now()}.db`)}`),
});

describe('sqlite specifics', () => {
  it('opens an in-memory store and a store in the data directory', async () => {
    const memory = await openEventStore('sqlite::memory:');
    expect(memory.kind).toBe('sqlite');
    await memory.append('m', [newEvent()], { expectedRevision: 'no_stream' });
    expect(await memory.streamRevision('m')).toBe(0);
    await memory.close();
    const inDataDir = await openEventStore('sqlite:', { dataDir: join(dir, 'data'), synchronous: 'NORMAL' });
    await inDataDir.ping();
    await inDataDir.close();
  });

  it('refuses a path it cannot create with StoreUnavailableError', async () => {
    await expect(openEventStore('sqlite:/dev/null/nope/events.db')).rejects.toBeInstanceOf(
      StoreUnavailableError,
    );
  });

  it('a subscriber sees appends made through another store on the same file', async () => {
    const shared = join(dir, 'shared.db');
    const reader = await openEventStore(`sqlite:${shared}`);
    const writer = await openEventStore(`sqlite:${shared}`);
    const seen: string[] = [];
    const sub = reader.subscribe((e) => {
      seen.push(e.eventId);
    });
    const { events } = await writer.append('x', [newEvent(), newEvent()], { expectedRevision: 'no_stream' });
    const deadline = Date.now() + 5000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await sub.stop();
    await Promise.all([reader.close(), writer.close()]);
    expect(seen).toEqual(events.map((e) => e.eventId));
  });

  it("headPosition, kept between calls, follows its own appends and another connection's at once", async () => {
    const shared = join(dir, 'head.db');
    const reader = await openEventStore(`sqlite:${shared}`);
    const writer = await openEventStore(`sqlite:${shared}`);
    try {
      expect(await reader.headPosition()).toBeNull();
      expect(await reader.headPosition()).toBeNull();
      const first = await writer.append('h', [newEvent()], { expectedRevision: 'no_stream' });
      expect(await reader.headPosition()).toBe(first.position);
      const own = await reader.append('h', [newEvent()], { expectedRevision: 0 });
      expect(await reader.headPosition()).toBe(own.position);
      expect(await writer.headPosition()).toBe(own.position);
      const again = await writer.append('h', [newEvent()], { expectedRevision: 1 });
      expect(await reader.headPosition()).toBe(again.position);
    } finally {
      await Promise.all([reader.close(), writer.close()]);
    }
  });

  it('the head questions of one turn share one answer, read after the last of them was asked', async () => {
    const shared = join(dir, 'head-turn.db');
    const reader = await openEventStore(`sqlite:${shared}`);
    const writer = await openEventStore(`sqlite:${shared}`);
    const raw = new Database(shared);
    try {
      await writer.append('t', [newEvent()], { expectedRevision: 'no_stream' });
      const first = reader.headPosition();
      // Committed by another connection after the first question, before the second one.
      raw
        .prepare(
          `INSERT INTO events (stream, revision, event_id, type, schema_version, ptce_id, occurred_at,
             recorded_at, recorded_by, data, metadata, prev_hash, hash)
           VALUES ('u', 0, 'e-raw', 'Test', 1, 'p', '2020-01-01', '2020-01-01T00:00:00.000Z', 'raw', '{}', '{}', 'x', 'y')`,
        )
        .run();
      const second = reader.headPosition();
      const [a, b] = await Promise.all([first, second]);
      const last = (await reader.readAll()).at(-1)!;
      expect(last.eventId).toBe('e-raw');
      expect([a, b]).toEqual([last.position, last.position]);
    } finally {
      raw.close();
      await Promise.all([reader.close(), writer.close()]);
    }
  });

  it('hands stored data as bytes only when it is JSON: a row rewritten with other text fails the read', async () => {
    const shared = join(dir, 'text.db');
    const store = await openEventStore(`sqlite:${shared}`);
    const raw = new Database(shared);
    try {
      const { events } = await store.append('j', [newEvent(), newEvent(), newEvent(), newEvent()], {
        expectedRevision: 'no_stream',
      });
      // Line breaks between tokens are still JSON; a trailing field after the value is not, nor is
      // one hidden behind a NUL byte (where SQLite's own JSON parser stops reading).
      const rewrite = raw.prepare('UPDATE events SET data = ? WHERE event_id = ?');
      rewrite.run('{\n "n": 1\n}', events[0]!.eventId);
      rewrite.run('{"n": 1}, "forged": true', events[1]!.eventId);
      raw
        .prepare('UPDATE events SET data = CAST(? AS TEXT) WHERE event_id = ?')
        .run(Buffer.from('{"n":1}\u0000,"forged":true}', 'utf8'), events[2]!.eventId);
      expect(
        raw.prepare('SELECT json_valid(data) FROM events WHERE event_id = ?').pluck().get(events[2]!.eventId),
      ).toBe(1);
      // Text where a number belongs: written into a line as it is, it would add a field to it.
      raw
        .prepare('UPDATE events SET schema_version = ? WHERE event_id = ?')
        .run('1,"forged":true', events[3]!.eventId);
      const [first] = await store.readStreamText!('j', { limit: 1 });
      expect(Buffer.from(first!.dataJson).toString('utf8')).toBe('{\n "n": 1\n}');
      await expect(store.readStreamText!('j', { fromRevision: 1, limit: 1 })).rejects.toThrow(/is no JSON/);
      await expect(store.readStreamText!('j', { fromRevision: 2, limit: 1 })).rejects.toThrow(/is no JSON/);
      await expect(store.readStreamText!('j', { fromRevision: 3, limit: 1 })).rejects.toThrow(
        /is no integer/,
      );
    } finally {
      raw.close();
      await store.close();
    }
  });

  it('refuses an unknown URL scheme', async () => {
    await expect(openEventStore('mysql://localhost/x')).rejects.toThrow(/unknown event store URL scheme/);
  });
});

describe('sqlite group commit', () => {
  it('appends requested in one tick commit together, and a refused one fails alone', async () => {
    const store = await openEventStore(`sqlite:${join(dir, 'group.db')}`);
    await store.append('g-taken', [newEvent()], { expectedRevision: 'no_stream' });
    const attempts = [
      store.append('g-a', [newEvent()], { expectedRevision: 'no_stream' }),
      store.append('g-taken', [newEvent()], { expectedRevision: 'no_stream' }),
      store.append('g-b', [newEvent(), newEvent()], { expectedRevision: 'no_stream' }),
    ];
    const [a, conflict, b] = await Promise.allSettled(attempts);
    expect(a?.status).toBe('fulfilled');
    expect(conflict?.status).toBe('rejected');
    expect(conflict?.status === 'rejected' && conflict.reason.name).toBe('RevisionConflictError');
    expect(b?.status).toBe('fulfilled');
    expect(await store.streamRevision('g-a')).toBe(0);
    expect(await store.streamRevision('g-b')).toBe(1);
    expect(await store.streamRevision('g-taken')).toBe(0);
    const log = await store.readAll();
    expect(log.map((e) => e.stream)).toEqual(['g-taken', 'g-a', 'g-b', 'g-b']);
    await store.close();
  });

  it('guarded appends in one batch: a refused one fails alone, each sees the appends before it', async () => {
    const store = await openEventStore(`sqlite:${join(dir, 'guarded.db')}`);
    await store.append('h-y', [newEvent()], { expectedRevision: 'no_stream' });
    const attempts = [
      store.append('h-a', [newEvent()], { expectedRevision: 'no_stream' }),
      store.append('h-b', [newEvent()], { expectedRevision: 'no_stream', alsoExpected: { 'h-y': 5 } }),
      store.append('h-c', [newEvent()], { expectedRevision: 'no_stream', alsoExpected: { 'h-y': 0 } }),
      store.append('h-y', [newEvent()], { expectedRevision: 0 }),
      store.append('h-d', [newEvent()], { expectedRevision: 'no_stream', alsoExpected: { 'h-y': 0 } }),
      store.append('h-e', [newEvent(), newEvent()], {
        expectedRevision: 'no_stream',
        alsoExpected: { 'h-y': 1, 'h-a': 0 },
      }),
    ];
    const outcomes = await Promise.allSettled(attempts);
    expect(outcomes.map((o) => o.status)).toEqual([
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
    ]);
    const reason = (i: number) => (outcomes[i] as PromiseRejectedResult).reason;
    expect(reason(1)).toMatchObject({ name: 'RevisionConflictError', stream: 'h-y', expected: 5, actual: 0 });
    expect(reason(4)).toMatchObject({ name: 'RevisionConflictError', stream: 'h-y', expected: 0, actual: 1 });
    const log = await store.readAll();
    expect(log.map((e) => e.stream)).toEqual(['h-y', 'h-a', 'h-c', 'h-y', 'h-e', 'h-e']);
    expect(await store.streamRevision('h-b')).toBeNull();
    expect(await store.streamRevision('h-d')).toBeNull();
    await store.close();
  });

  // An automatic rollback of the whole transaction (SQLITE_FULL, SQLITE_IOERR) is simulated by a
  // trigger that raises ROLLBACK: SQLite then ends the batch's transaction exactly as it does on
  // those errors, in the middle of the batch.
  it('a batch whose transaction SQLite rolled back by itself writes nothing after the rollback', async () => {
    const path = join(dir, 'rollback.db');
    const store = await openEventStore(`sqlite:${path}`);
    await store.ping();
    const admin = new Database(path);
    admin.exec(
      "CREATE TRIGGER fail_whole_tx BEFORE INSERT ON events WHEN NEW.stream = 'r-boom' BEGIN SELECT RAISE(ROLLBACK, 'simulated disk full'); END",
    );
    admin.close();
    const outcomes = await Promise.allSettled([
      store.append('r-before', [newEvent()], { expectedRevision: 'no_stream' }),
      store.append('r-boom', [newEvent()], { expectedRevision: 'no_stream' }),
      store.append('r-after', [newEvent()], { expectedRevision: 'no_stream' }),
    ]);
    for (const outcome of outcomes) {
      expect(outcome.status).toBe('rejected');
      expect(outcome.status === 'rejected' && outcome.reason).toBeInstanceOf(StoreUnavailableError);
    }
    expect(await store.readAll()).toEqual([]);
    // The store keeps working once the cause is gone.
    await expect(
      store.append('r-after', [newEvent()], { expectedRevision: 'no_stream' }),
    ).resolves.toMatchObject({
      nextRevision: 0,
    });
    await store.close();
  });

  it('close writes the appends already requested instead of dropping them', async () => {
    const path = join(dir, 'close.db');
    const store = await openEventStore(`sqlite:${path}`);
    const pending = store.append('c', [newEvent()], { expectedRevision: 'no_stream' });
    await store.close();
    await expect(pending).resolves.toMatchObject({ nextRevision: 0 });
    const reopened = await openEventStore(`sqlite:${path}`);
    expect(await reopened.streamRevision('c')).toBe(0);
    await reopened.close();
  });
});
