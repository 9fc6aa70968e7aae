import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  type EventStore,
  type IdempotencyStore,
  openStores,
  type Stores,
  StoreUnavailableError,
} from '@ptce/event-store';
import { PostgresIdempotencyStore } from '@ptce/event-store/postgres';
import { membershipModule } from '@ptce/membership';
import {
  type App,
  buildHost,
  fingerprintKeyOf,
  loadConfig,
  loadJwtKeys,
  loadKeyEncryptionKey,
  mintToken,
} from '@ptce/platform';
import { createTempDatabase, startTestServer, type TestServer } from '@ptce/testing';
import { idempotencyRecordKey, requestFingerprint } from '@ptce/write-side';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectProblem, expectWritten, type Response, send, valCoop } from './helpers.ts';

let server: TestServer;
let secretary: string;
beforeAll(async () => {
  server = await startTestServer();
  secretary = await server.bearer('secretary', ['*']);
});
afterAll(() => server.close());

const membership = (ptceId: string) => server.app.eventStore.readStream(`membership-${ptceId}`);

describe('concurrency', () => {
  test('sixteen concurrent identical joins: one 201, fifteen 409, one MemberJoined stored', async () => {
    const p = 'sixteen';
    await send(server, valCoop.register(p), secretary);
    const answers = await Promise.all(
      Array.from({ length: 16 }, () => send(server, valCoop.joinCcVal(p), secretary)),
    );
    const statuses = answers.map((a) => a.statusCode).sort();
    expect(statuses).toEqual([201, ...Array(15).fill(409)]);
    for (const refused of answers.filter((a) => a.statusCode === 409)) {
      expectProblem(refused, 409, 'already_member');
    }
    const joins = (await membership(p)).filter((e) => e.type === 'MemberJoined');
    expect(joins).toHaveLength(1);
    const winner = answers.find((a) => a.statusCode === 201);
    expect(winner?.json()).toMatchObject({ eventIds: [joins[0]?.eventId], revision: 1 });
  });
});

/**
 * Every Idempotency-Key behaviour of the contract, on each store that keeps keys beside its
 * events: the PostgreSQL deployment once answered 500 to every keyed write (hostile-test defect 1)
 * because only SQLite was tested.
 */
function idempotencyContract(
  storeName: string,
  environment: () => Promise<{ env: Record<string, string>; drop(): Promise<void> }>,
) {
  describe(`Idempotency-Key on ${storeName}`, () => {
    const p = 'idem';
    let server: TestServer;
    let secretary: string;
    let drop: () => Promise<void> = async () => {};
    const membership = (ptceId: string) => server.app.eventStore.readStream(`membership-${ptceId}`);
    beforeAll(async () => {
      const prepared = await environment();
      drop = prepared.drop;
      server = await startTestServer(prepared.env);
      secretary = await server.bearer('secretary', ['*']);
      expect((await send(server, valCoop.register(p), secretary)).statusCode).toBe(201);
    });
    afterAll(async () => {
      await server.close();
      await drop();
    });

    test('a plain key on a write is recorded and answered (hostile-test defect 1)', async () => {
      const res = await send(server, valCoop.register('pg1'), secretary, {
        'idempotency-key': 'plain-key-1',
      });
      expectWritten(res, 201, 0, { ptceId: 'pg1' });
      const again = await send(server, valCoop.register('pg1'), secretary, {
        'idempotency-key': 'plain-key-1',
      });
      expect(again.json()).toEqual(res.json());
    });

    test('the same key with the same body answers the first answer again and records nothing new', async () => {
      const first = await send(server, valCoop.joinCcVal(p), secretary, { 'idempotency-key': 'join-cc-val' });
      expectWritten(first, 201, 1, { organisationId: 'cc-val' });
      const again = await send(server, valCoop.joinCcVal(p), secretary, { 'idempotency-key': 'join-cc-val' });
      expect(again.statusCode).toBe(201);
      expect(again.json()).toEqual(first.json());
      expect(again.headers.etag).toBe(first.headers.etag);
      // The retry says it recorded nothing; the first answer did not.
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      expect(await membership(p)).toHaveLength(2);
      // Without the key, the same body is a new request, refused by the domain.
      expectProblem(await send(server, valCoop.joinCcVal(p), secretary), 409, 'already_member');
    });

    test('the same key with another body, or on another route, is refused (422)', async () => {
      const key = { 'idempotency-key': 'recognition-1' };
      expect((await send(server, valCoop.recognition(p), secretary, key)).statusCode).toBe(201);
      const count = (await membership(p)).length;
      const other = valCoop.recognition(p);
      expectProblem(
        await send(server, { ...other, payload: { ...other.payload, amountEur: 5 } }, secretary, key),
        422,
        'idempotency_key_reused',
      );
      expectProblem(
        await send(server, valCoop.legalEntity(p), secretary, key),
        422,
        'idempotency_key_reused',
      );
      expect(await membership(p)).toHaveLength(count);
    });

    test('a key used by another principal is another key', async () => {
      const key = { 'idempotency-key': 'shared-key' };
      const mine = await send(server, valCoop.recognition(p), secretary, key);
      expect(mine.statusCode).toBe(201);
      const colleague = await server.bearer('secretary', [p], 'another-secretary');
      const theirs = await send(server, valCoop.recognition(p), colleague, key);
      expect(theirs.statusCode).toBe(201);
      expect(theirs.json().eventIds).not.toEqual(mine.json().eventIds);
      expect(theirs.json().revision).toBe(mine.json().revision + 1);
      const recorded = (await membership(p)).slice(-2);
      expect(recorded.map((e) => e.recordedBy)).toEqual(['secretary-test', 'another-secretary']);
      // And each principal still gets its own first answer.
      const mineAgain = await send(server, valCoop.recognition(p), secretary, key);
      expect(mineAgain.json()).toEqual(mine.json());
    });

    test('a refused request does not hold the key: the same key works once the request is valid', async () => {
      const key = { 'idempotency-key': 'too-early' };
      const call = valCoop.joinLycee(p);
      const early = { ...call, payload: { ...call.payload, occurredAt: '2016-01-01' } };
      expectProblem(await send(server, early, secretary, key), 422, 'before_registration');
      expectProblem(await send(server, early, secretary, key), 422, 'before_registration');
      expect((await send(server, call, secretary, { 'idempotency-key': 'too-early-fixed' })).statusCode).toBe(
        201,
      );
    });

    test('concurrent requests with one key: each gets the first answer or 409 in flight, one event stored', async () => {
      const key = { 'idempotency-key': 'concurrent-retries' };
      const before = (await membership(p)).length;
      const answers = await Promise.all(
        Array.from({ length: 8 }, () => send(server, valCoop.recognition(p), secretary, key)),
      );
      const successes = answers.filter((a) => a.statusCode === 201);
      expect(successes.length).toBeGreaterThanOrEqual(1);
      for (const s of successes) expect(s.json()).toEqual(successes[0]?.json());
      for (const other of answers.filter((a) => a.statusCode !== 201)) {
        expectProblem(other, 409, 'idempotency_key_in_flight');
      }
      expect(await membership(p)).toHaveLength(before + 1);
      const later = await send(server, valCoop.recognition(p), secretary, key);
      expect(later.json()).toEqual(successes[0]?.json());
    });

    test('a key longer than 200 characters is malformed (400)', async () => {
      const res = await send(server, valCoop.recognition(p), secretary, {
        'idempotency-key': 'k'.repeat(201),
      });
      expect(res.statusCode).toBe(400);
    });

    test('one subject, one key, two PTCE: two keys (hostile-test defect 6)', async () => {
      const key = { 'idempotency-key': 'monthly-report' };
      expect((await send(server, valCoop.register('scope-a'), secretary)).statusCode).toBe(201);
      expect((await send(server, valCoop.register('scope-b'), secretary)).statusCode).toBe(201);
      expectWritten(await send(server, valCoop.recognition('scope-a'), secretary, key), 201, 1);
      expectWritten(await send(server, valCoop.recognition('scope-b'), secretary, key), 201, 1);
    });

    test('a key in flight is 409 with Retry-After (hostile-test defect 7)', async () => {
      const key = { 'idempotency-key': 'retry-after' };
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => send(server, valCoop.recognition(p), secretary, key)),
      );
      for (const refused of answers.filter((a) => a.statusCode === 409)) {
        expectProblem(refused, 409, 'idempotency_key_in_flight');
        expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      }
    });
  });
}

idempotencyContract('SQLite', async () => ({ env: {}, drop: async () => {} }));
idempotencyContract('PostgreSQL', async () => {
  const database = await createTempDatabase('ptce_idem');
  return { env: { EVENT_STORE_URL: database.url }, drop: () => database.drop() };
});

describe('If-Match', () => {
  test('a stale revision is 412 and records nothing; the current one succeeds', async () => {
    const p = 'if-match';
    const registered = await send(server, valCoop.register(p), secretary);
    expect(registered.headers.etag).toBe('"0"');
    const joined = await send(server, valCoop.joinCcVal(p), secretary, { 'if-match': '"0"' });
    expectWritten(joined, 201, 1);
    const stale = await send(server, valCoop.joinLycee(p), secretary, { 'if-match': '"0"' });
    expectProblem(stale, 412, 'precondition_failed');
    expect(await membership(p)).toHaveLength(2);
    const current = await send(server, valCoop.joinLycee(p), secretary, {
      'if-match': joined.headers.etag as string,
    });
    expectWritten(current, 201, 2);
  });

  test('If-Match on a PTCE not yet registered is 412, and a malformed one is 400', async () => {
    expectProblem(
      await send(server, valCoop.register('if-none'), secretary, { 'if-match': '"3"' }),
      412,
      'precondition_failed',
    );
    expect(await membership('if-none')).toHaveLength(0);
    const res = await send(server, valCoop.register('if-none'), secretary, { 'if-match': 'three' });
    expect(res.statusCode).toBe(400);
  });

  test('a weak ETag W/"n" as If-Match never matches (strong comparison): 412, nothing recorded', async () => {
    const p = 'if-match-weak';
    const registered = await send(server, valCoop.register(p), secretary);
    expect(registered.headers.etag).toBe('"0"');
    const weak = await send(server, valCoop.joinCcVal(p), secretary, { 'if-match': 'W/"0"' });
    expectProblem(weak, 412, 'precondition_failed');
    expect(await membership(p)).toHaveLength(1);
    expectWritten(await send(server, valCoop.joinCcVal(p), secretary, { 'if-match': '"0"' }), 201, 1);
  });
});

describe('a retry after a restart still gets the first answer', () => {
  test('file-backed SQLite: write with a key, restart, retry → same answer, one event', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-restart-'));
    const env = { EVENT_STORE_URL: `sqlite:${path.join(dir, 'ptce.db')}`, DATA_DIR: dir };
    try {
      const first = await startTestServer(env);
      const auth = await first.bearer('secretary', ['restart']);
      const key = { 'idempotency-key': 'register-restart' };
      const answer = await send(first, valCoop.register('restart'), auth, key);
      expectWritten(answer, 201, 0, { ptceId: 'restart' });
      await first.close();

      const second = await startTestServer(env);
      try {
        const retry = await send(
          second,
          valCoop.register('restart'),
          await second.bearer('secretary', ['restart']),
          key,
        );
        expect(retry.statusCode).toBe(201);
        expect(retry.json()).toEqual(answer.json());
        expect(retry.headers.etag).toBe(answer.headers.etag);
        expect(await second.app.eventStore.readStream('membership-restart')).toHaveLength(1);
      } finally {
        await second.close();
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The real SQLite store behind a switch: when down, every call fails as an unreachable store does. */
function flaky(store: EventStore) {
  const down = { reads: false, appends: false };
  const fail = () => Promise.reject(new StoreUnavailableError('simulated: connection refused'));
  const wrapped: EventStore = {
    kind: store.kind,
    append: (stream, events, options) => (down.appends ? fail() : store.append(stream, events, options)),
    readStream: (stream, options) => (down.reads ? fail() : store.readStream(stream, options)),
    streamRevision: (stream) => (down.reads ? fail() : store.streamRevision(stream)),
    readAll: (options) => (down.reads ? fail() : store.readAll(options)),
    headPosition: () => (down.reads ? fail() : store.headPosition()),
    subscribe: (handler, options) => store.subscribe(handler, options),
    ping: () => (down.reads ? fail() : store.ping()),
    close: () => store.close(),
  };
  return { wrapped, down };
}

describe('the event store unreachable', () => {
  let app: App;
  let stores: Stores;
  let inner: EventStore;
  let down: { reads: boolean; appends: boolean };
  let auth: string;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-503-'));
    const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', EVENT_STORE_URL: 'sqlite::memory:' });
    stores = await openStores('sqlite::memory:');
    inner = stores.events;
    const store = flaky(inner);
    down = store.down;
    app = await buildHost(config, {
      services: [membershipModule],
      stores: { ...stores, events: store.wrapped },
      logger: false,
    });
    await app.ready();
    const keys = loadJwtKeys(config);
    if (!keys.privateKey) throw new Error('no private key');
    auth = `Bearer ${await mintToken({ sub: 's', role: 'secretary', ptces: ['*'], ttl: '1h' }, keys.privateKey, config)}`;
    expect((await send({ app }, valCoop.register('down'), auth)).statusCode).toBe(201);
  });
  afterAll(async () => {
    await app.close();
    await stores.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test.each([
    { name: 'reads and appends fail', reads: true, appends: true },
    { name: 'only appends fail', reads: false, appends: true },
  ])('$name → 503 with Retry-After, nothing recorded, the key not held', async ({ reads, appends }) => {
    const key = { 'idempotency-key': `join-${reads}` };
    const countBefore = (await inner.readStream('membership-down')).length;
    Object.assign(down, { reads, appends });
    let res: Awaited<ReturnType<typeof send>>;
    try {
      res = await send({ app }, valCoop.recognition('down'), auth, key);
    } finally {
      Object.assign(down, { reads: false, appends: false });
    }
    const body = expectProblem(res, 503, 'store_unavailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(String(body.detail)).not.toContain('simulated');
    expect(await inner.readStream('membership-down')).toHaveLength(countBefore);
    // Once the store is back, the same request with the same key is carried out once.
    const retry = await send({ app }, valCoop.recognition('down'), auth, key);
    expect(retry.statusCode, retry.body).toBe(201);
    expect(await inner.readStream('membership-down')).toHaveLength(countBefore + 1);
  });
});

describe('the idempotency keys unreachable (their PostgreSQL down, the events still answering)', () => {
  let app: App;
  let stores: Stores;
  let inner: EventStore;
  let auth: string;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-idem-503-'));
    const config = loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', EVENT_STORE_URL: 'sqlite::memory:' });
    stores = await openStores('sqlite::memory:');
    inner = stores.events;
    // Keys share the events' connection in a deployment; apart here, so that only they fail, as
    // node-postgres fails when nothing listens on the port.
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    const unreachable = {
      query: () => Promise.reject(refused),
    } as unknown as ConstructorParameters<typeof PostgresIdempotencyStore>[0];
    const idempotency: IdempotencyStore = new PostgresIdempotencyStore(unreachable);
    app = await buildHost(config, {
      services: [membershipModule],
      stores: { ...stores, idempotency },
      logger: false,
    });
    await app.ready();
    const keys = loadJwtKeys(config);
    if (!keys.privateKey) throw new Error('no private key');
    auth = `Bearer ${await mintToken({ sub: 's', role: 'secretary', ptces: ['*'], ttl: '1h' }, keys.privateKey, config)}`;
  });
  afterAll(async () => {
    await app.close();
    await stores.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('a write with an Idempotency-Key answers 503 with Retry-After, not 500, and records nothing', async () => {
    const res = await send({ app }, valCoop.register('idem-down'), auth, { 'idempotency-key': 'register-1' });
    expectProblem(res, 503, 'store_unavailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(await inner.readAll()).toEqual([]);
  });
});

describe('takeover race over HTTP (SQLite keys beside the events)', () => {
  let app: App;
  let auth: string;
  let dir: string;
  let other: Stores;
  let keys: IdempotencyStore;
  let fingerprintKey: Buffer;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ptce-takeover-'));
    const config = loadConfig({
      DATA_DIR: dir,
      LOG_LEVEL: 'silent',
      EVENT_STORE_URL: `sqlite:${path.join(dir, 'events.db')}`,
      RATE_LIMIT_MAX: '100000',
    });
    app = await buildHost(config, { services: [membershipModule], logger: false });
    await app.ready();
    fingerprintKey = fingerprintKeyOf(loadKeyEncryptionKey({ file: config.PERSONAL_DATA_KEY_FILE }));
    // The server's own file, opened beside it as another process would.
    other = await openStores(`sqlite:${path.join(dir, 'events.db')}`);
    keys = other.idempotency;
    const jwt = loadJwtKeys(config);
    if (!jwt.privateKey) throw new Error('no private key');
    auth = `Bearer ${await mintToken({ sub: 's', role: 'secretary', ptces: ['*'], ttl: '1h' }, jwt.privateKey, config)}`;
    expect((await send({ app }, valCoop.register('takeover'), auth)).statusCode).toBe(201);
  });
  afterAll(async () => {
    await other.close();
    await app.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('two concurrent retries of a key abandoned 31 s ago: one 201, one 409 in flight, and the answer is kept', async () => {
    const join = valCoop.joinCcVal('takeover');
    const request = { method: join.method, url: join.url, body: join.payload };
    await keys.reserve(idempotencyRecordKey('s', 'takeover', 'join-after-crash'), {
      fingerprint: requestFingerprint(request, fingerprintKey),
      state: 'pending',
      stream: 'membership-takeover',
      createdAt: Date.now() - 31_000,
      owner: 'crashed-process',
    });
    const header = { 'idempotency-key': 'join-after-crash' };
    const answers = await Promise.all([send({ app }, join, auth, header), send({ app }, join, auth, header)]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 409]);
    const winner = answers.find((a) => a.statusCode === 201);
    expectProblem(answers.find((a) => a.statusCode === 409) as Response, 409, 'idempotency_key_in_flight');
    expect((await keys.get(idempotencyRecordKey('s', 'takeover', 'join-after-crash')))?.state).toBe('done');
    // A third retry answers the first answer again instead of a refusal forever.
    const third = await send({ app }, join, auth, header);
    expect(third.statusCode, third.body).toBe(201);
    expect(third.json()).toEqual(winner?.json());
    const joins = (await app.eventStore.readStream('membership-takeover')).filter(
      (e) => e.type === 'MemberJoined',
    );
    expect(joins).toHaveLength(1);
  });
});
