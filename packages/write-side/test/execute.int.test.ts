import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import type { EventToAppend } from '@ptce/domain';
import {
  type EventStore,
  type IdempotencyRecord,
  type IdempotencyStore,
  openStores,
  RevisionConflictError,
  type Stores,
} from '@ptce/event-store';
import { canonicalJson, deterministicEventId, type EventEnvelope } from '@ptce/events';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  executeWrite,
  type Fold,
  idempotencyEventScope,
  idempotencyRecordKey,
  LedgerRepository,
  PENDING_LEASE_MS,
  PENDING_RENEW_MS,
  requestFingerprint,
  type WriteCommand,
  type WriteDeps,
  WriteRefused,
} from '../src/index.ts';
import { forwardingStore } from './forwarding-store.ts';

/** A tally of what was folded: enough to see what a decision was taken on. */
interface Tally {
  readonly names: readonly string[];
}
const tally: Fold<Tally> = {
  initial: () => ({ names: [] }),
  evolve: (state, event) => ({ names: [...state.names, String(event.data.name)] }),
};

const STREAM = 'membership-p';
// The executor never looks inside an event's type: this tally fold takes one of its own.
const named = (name: string): EventToAppend => ({
  type: 'Named' as EventToAppend['type'],
  data: { name },
  occurredAt: '2020-01-01',
});

let stores: Stores;
let store: EventStore;
let idempotency: IdempotencyStore;
let deps: WriteDeps<Tally>;
let clock: number;
beforeEach(async () => {
  clock = Date.parse('2024-05-01');
  stores = await openStores('sqlite::memory:');
  store = stores.events;
  idempotency = stores.idempotency;
  deps = {
    store,
    idempotency,
    ledgers: new LedgerRepository(store, tally),
    now: () => clock,
  };
});
afterEach(async () => {
  await stores.close();
});

/** A command that adds `name` unless it is already there (as a decider refuses a second join). */
function command(name: string, overrides: Partial<WriteCommand<Tally>> = {}): WriteCommand<Tally> {
  return {
    ptceId: 'p',
    stream: STREAM,
    readStreams: [STREAM],
    recordedBy: 'alice',
    request: { method: 'POST', url: '/names', body: { name } },
    decide: (state) => {
      if (state.names.includes(name)) throw new Error(`${name} already there`);
      return [named(name)];
    },
    respond: (appended) => ({ status: 201, body: { name, count: appended.length } }),
    ...overrides,
  };
}

/**
 * The deps over a store whose first append waits until `open()` is called: a request kept in
 * flight for as long as a test needs.
 */
function withFirstAppendHeld() {
  let open: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let appends = 0;
  const gated = forwardingStore(store, {
    append: async (s, e, o) => {
      if (appends++ === 0) await gate;
      return store.append(s, e, o);
    },
  });
  return { gatedDeps: { ...deps, store: gated, ledgers: new LedgerRepository(gated, tally) }, open };
}

/** Where alice's key on PTCE p is stored. */
const recordKey = (key: string) => idempotencyRecordKey('alice', 'p', key);

const names = async () => (await store.readStream(STREAM)).map((e) => e.data.name);

describe('executeWrite', () => {
  test('appends what the decision returns and answers with ids, position, revision and ETag', async () => {
    const answer = await executeWrite(deps, command('a'));
    const [stored] = await store.readStream(STREAM);
    expect(answer).toEqual({
      status: 201,
      body: { name: 'a', count: 1, eventIds: [stored?.eventId], position: stored?.position, revision: 0 },
      etag: '"0"',
    });
    expect(stored).toMatchObject({
      type: 'Named',
      ptceId: 'p',
      recordedBy: 'alice',
      occurredAt: '2020-01-01',
    });
    const second = await executeWrite(deps, command('b'));
    expect(second.etag).toBe('"1"');
    expect(String(second.body.position) > String(answer.body.position)).toBe(true);
  });

  test('a revision conflict between load and append is retried once, on the new state', async () => {
    const seen: (readonly string[])[] = [];
    const answer = await executeWrite(
      deps,
      command('b', {
        decide: (state) => {
          seen.push(state.names);
          // Another writer slips in between this load and this append, the first time only.
          if (seen.length === 1)
            void store.append(STREAM, [rival('a', 'rival-1')], { expectedRevision: 'any' });
          return [named('b')];
        },
      }),
    );
    expect(seen).toEqual([[], ['a']]);
    expect(answer.body.revision).toBe(1);
    expect(await names()).toEqual(['a', 'b']);
  });

  test('two conflicts in a row: the typed error propagates and nothing of the command is stored', async () => {
    let calls = 0;
    const attempt = executeWrite(
      deps,
      command('b', {
        decide: () => {
          calls++;
          void store.append(STREAM, [rival(`r${calls}`, `rival-${calls}`)], { expectedRevision: 'any' });
          return [named('b')];
        },
      }),
    );
    await expect(attempt).rejects.toBeInstanceOf(RevisionConflictError);
    expect(calls).toBe(2);
    expect(await names()).toEqual(['r1', 'r2']);
  });

  test('If-Match: a stale revision is refused before deciding; a conflict is then not retried', async () => {
    await executeWrite(deps, command('a'));
    let decided = 0;
    const stale = executeWrite(
      deps,
      command('b', {
        ifMatch: 5,
        decide: () => {
          decided++;
          return [named('b')];
        },
      }),
    );
    await expect(stale).rejects.toMatchObject({
      failure: { kind: 'precondition_failed', expected: 5, actual: 0 },
    });
    expect(decided).toBe(0);
    const raced = executeWrite(
      deps,
      command('c', {
        ifMatch: 0,
        decide: () => {
          void store.append(STREAM, [rival('x', 'rival-x')], { expectedRevision: 'any' });
          return [named('c')];
        },
      }),
    );
    // If-Match with a cross-process conflict: 412, not a 409 revision conflict.
    await expect(raced).rejects.toMatchObject({
      failure: { kind: 'precondition_failed', expected: 0, actual: 1 },
    });
    expect(await names()).toEqual(['a', 'x']);
  });
});

test('If-Match with a cross-process conflict answers 412 precondition_failed, not 409', async () => {
  await executeWrite(deps, command('a'));
  // Another process on the same log: its append lands between our load and our append.
  const answer = executeWrite(
    deps,
    command('b', {
      ifMatch: 0,
      decide: () => {
        void store.append(STREAM, [rival('x', 'other-process')], { expectedRevision: 0 });
        return [named('b')];
      },
    }),
  );
  await expect(answer).rejects.toBeInstanceOf(WriteRefused);
  await expect(answer).rejects.toMatchObject({
    failure: { kind: 'precondition_failed', expected: 0, actual: 1 },
  });
  expect(await names()).toEqual(['a', 'x']);
});

function rival(name: string, id: string) {
  return {
    eventId: deterministicEventId('rivals', id),
    type: 'Named',
    schemaVersion: 1,
    ptceId: 'p',
    occurredAt: '2020-01-01',
    recordedBy: 'bob',
    data: { name },
  };
}

describe('executeWrite with an Idempotency-Key', () => {
  const keyed = (name: string, key: string, overrides: Partial<WriteCommand<Tally>> = {}) =>
    command(name, { idempotencyKey: key, ...overrides });

  test('the same key and request answers the first answer again without deciding again', async () => {
    let decided = 0;
    const decide = () => {
      decided++;
      return [named('a')];
    };
    const first = await executeWrite(deps, keyed('a', 'k1', { decide }));
    const again = await executeWrite(deps, keyed('a', 'k1', { decide }));
    expect(again).toEqual({ ...first, replayed: true });
    expect(decided).toBe(1);
    expect(await names()).toEqual(['a']);
  });

  test('the same key with another request is refused; another principal has its own keys', async () => {
    await executeWrite(deps, keyed('a', 'k1'));
    const reused = executeWrite(deps, keyed('b', 'k1'));
    await expect(reused).rejects.toBeInstanceOf(WriteRefused);
    await expect(reused).rejects.toMatchObject({ failure: { kind: 'idempotency_key_reused' } });
    const bob = await executeWrite(deps, keyed('b', 'k1', { recordedBy: 'bob' }));
    expect(bob.status).toBe(201);
    expect(await names()).toEqual(['a', 'b']);
  });

  test('a refused command releases its key', async () => {
    await executeWrite(deps, command('a'));
    await expect(executeWrite(deps, keyed('a', 'k2'))).rejects.toThrow('a already there');
    expect(await idempotency.get(recordKey('k2'))).toBeNull();
  });

  test('a pending record whose events were appended (a crash before the answer was saved) is answered from them', async () => {
    const request = { method: 'POST', url: '/names', body: { name: 'a' } };
    const key = recordKey('k3');
    const pending: IdempotencyRecord = {
      fingerprint: createHash('sha256').update(canonicalJson(request)).digest('hex'),
      state: 'pending',
      stream: STREAM,
      // Older than the lease: the request that reserved it is gone.
      createdAt: clock - PENDING_LEASE_MS - 1,
      owner: 'crashed-attempt',
    };
    expect(await idempotency.reserve(key, pending)).toBe(true);
    const [appended] = (
      await store.append(
        STREAM,
        [
          {
            ...rival('a', 'unused'),
            // The id the lost attempt gave it: derived from the key and the request.
            eventId: deterministicEventId(idempotencyEventScope(key, pending.fingerprint), '0'),
            recordedBy: 'alice',
            idempotencyKey: 'k3',
          },
        ],
        { expectedRevision: 'no_stream' },
      )
    ).events;

    let decided = 0;
    const answer = await executeWrite(
      deps,
      keyed('a', 'k3', {
        request,
        decide: () => {
          decided++;
          return [named('a')];
        },
      }),
    );
    expect(decided).toBe(0);
    expect(answer).toMatchObject({
      status: 201,
      etag: '"0"',
      body: { eventIds: [appended?.eventId], revision: 0 },
    });
    expect(await names()).toEqual(['a']);
    expect((await idempotency.get(key))?.state).toBe('done');
  });

  test('a pending record with nothing appended (a crash before the append) runs the command', async () => {
    const request = { method: 'POST', url: '/names', body: { name: 'a' } };
    const fingerprint = createHash('sha256').update(canonicalJson(request)).digest('hex');
    await idempotency.reserve(recordKey('k4'), {
      fingerprint,
      state: 'pending',
      stream: STREAM,
      createdAt: 0,
      owner: 'crashed-attempt',
    });
    const answer = await executeWrite(deps, keyed('a', 'k4', { request }));
    expect(answer.status).toBe(201);
    expect(await names()).toEqual(['a']);
  });

  test('a request still in flight holds its key: a concurrent same-key request is refused, not run twice', async () => {
    const { gatedDeps, open } = withFirstAppendHeld();
    const first = executeWrite(gatedDeps, keyed('a', 'k6', { correlationId: 'request-1' }));
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = executeWrite(gatedDeps, keyed('a', 'k6', { correlationId: 'request-2' }));
    await expect(second).rejects.toMatchObject({ failure: { kind: 'idempotency_key_in_flight' } });
    open();
    const answer = await first;
    expect(answer.status).toBe(201);
    expect(await names()).toEqual(['a']);
    expect(await executeWrite(gatedDeps, keyed('a', 'k6', { correlationId: 'request-3' }))).toEqual({
      ...answer,
      replayed: true,
    });
  });

  test('takeover race: two concurrent retries of an abandoned key run the command once and keep its answer', async () => {
    const request = { method: 'POST', url: '/names', body: { name: 'a' } };
    const key = recordKey('k7');
    await idempotency.reserve(key, {
      fingerprint: createHash('sha256').update(canonicalJson(request)).digest('hex'),
      state: 'pending',
      stream: STREAM,
      createdAt: clock - PENDING_LEASE_MS - 1_000,
      owner: 'crashed-attempt',
    });
    let decided = 0;
    const retry = () =>
      executeWrite(
        deps,
        keyed('a', 'k7', {
          request,
          decide: (state) => {
            decided++;
            if (state.names.includes('a')) throw new Error('a already there');
            return [named('a')];
          },
        }),
      );
    const [one, two] = await Promise.allSettled([retry(), retry()]);
    const outcomes = [one, two];
    const answered = outcomes.filter((o) => o.status === 'fulfilled');
    const refused = outcomes.filter((o) => o.status === 'rejected');
    expect(answered).toHaveLength(1);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.status === 'rejected' && refused[0].reason).toMatchObject({
      failure: { kind: 'idempotency_key_in_flight' },
    });
    expect(decided).toBe(1);
    expect(await names()).toEqual(['a']);
    const record = await idempotency.get(key);
    expect(record?.state).toBe('done');
    expect(record?.createdAt).toBe(clock);
    // A third retry gets the first answer back, not a refusal.
    const third = await retry();
    expect(third).toEqual({ ...(answered[0]?.status === 'fulfilled' && answered[0].value), replayed: true });
  });

  test('key reused after expiry with another body: new event ids, recorded, not a duplicate-id 500', async () => {
    const first = await executeWrite(deps, keyed('a', 'k8'));
    const record = await idempotency.get(recordKey('k8'));
    if (!record) throw new Error('no record');
    // What 48 hours do to the key.
    await idempotency.release(recordKey('k8'), record.owner);
    const reused = await executeWrite(deps, keyed('b', 'k8'));
    expect(reused.status).toBe(201);
    expect(reused.body.eventIds).not.toEqual(first.body.eventIds);
    expect(await names()).toEqual(['a', 'b']);
  });

  test("key reused after expiry: a crash recovery does not take the first use's events for its own", async () => {
    await executeWrite(deps, keyed('a', 'k9'));
    const record = await idempotency.get(recordKey('k9'));
    if (!record) throw new Error('no record');
    await idempotency.release(recordKey('k9'), record.owner);
    const request = { method: 'POST', url: '/names', body: { name: 'b' } };
    // The second use crashed before appending anything.
    await idempotency.reserve(recordKey('k9'), {
      fingerprint: requestFingerprint(request),
      state: 'pending',
      stream: STREAM,
      createdAt: clock - PENDING_LEASE_MS - 1,
      owner: 'crashed-attempt',
    });
    const answer = await executeWrite(deps, keyed('b', 'k9', { request }));
    expect(answer.body).toMatchObject({ name: 'b', revision: 1 });
    expect(await names()).toEqual(['a', 'b']);
  });

  test('when saving the answer fails after the append, the retry answers from the stored events', async () => {
    let failures = 1;
    const flaky: IdempotencyStore = {
      get: (key) => idempotency.get(key),
      reserve: (key, record) => idempotency.reserve(key, record),
      takeOver: (key, stale, record) => idempotency.takeOver(key, stale, record),
      renew: (key, owner, at) => idempotency.renew(key, owner, at),
      release: (key, owner) => idempotency.release(key, owner),
      getMany: (keys) => idempotency.getMany(keys),
      reserveMany: (entries) => idempotency.reserveMany(entries),
      completeMany: (entries) => idempotency.completeMany(entries),
      close: () => idempotency.close(),
      complete: (key, record) =>
        failures-- > 0 ? Promise.reject(new Error('disk full')) : idempotency.complete(key, record),
    };
    const withFlaky = { ...deps, idempotency: flaky };
    await expect(executeWrite(withFlaky, keyed('a', 'k5'))).rejects.toThrow('disk full');
    expect(await names()).toEqual(['a']);
    // Right away the key still looks in flight; once the lease is over the retry takes it over.
    await expect(executeWrite(withFlaky, keyed('a', 'k5'))).rejects.toMatchObject({
      failure: { kind: 'idempotency_key_in_flight' },
    });
    clock += PENDING_LEASE_MS;
    // The decision would now refuse ("a already there"): only the stored events can answer.
    const retry = await executeWrite(withFlaky, keyed('a', 'k5'));
    expect(retry).toMatchObject({ status: 201, etag: '"0"', body: { revision: 0 } });
    expect(retry.body.eventIds).toEqual(
      (await store.readStream(STREAM)).map((e: EventEnvelope) => e.eventId),
    );
    expect(await names()).toEqual(['a']);
  });
});

describe('Idempotency-Key scope (hostile-test defect 6)', () => {
  test('one key is scoped by subject and PTCE: another PTCE or another subject never collides', async () => {
    await executeWrite(deps, command('a', { idempotencyKey: 'shared' }));
    const otherPtce = await executeWrite(
      deps,
      command('a', {
        idempotencyKey: 'shared',
        ptceId: 'q',
        stream: 'membership-q',
        readStreams: ['membership-q'],
      }),
    );
    expect(otherPtce.status).toBe(201);
    const otherSubject = await executeWrite(
      deps,
      command('b', { idempotencyKey: 'shared', recordedBy: 'bob', request: { url: '/other' } }),
    );
    expect(otherSubject.status).toBe(201);
    expect(await names()).toEqual(['a', 'b']);
  });

  test('the stored key holds neither the subject nor a NUL, whatever the key and subject contain', () => {
    const key = idempotencyRecordKey('secrétaire\u0000x', 'p1', 'plain-key-1');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(key).not.toBe(idempotencyRecordKey('secrétaire', 'p1', '\u0000x:plain-key-1'));
  });
});

describe('a key in flight after a crash (hostile-test defect 7)', () => {
  const deadPid = () => {
    // A process that has exited: its pid names no running process (until the system reuses it).
    const child = spawnSync(process.execPath, ['-e', '0']);
    return child.pid;
  };

  test('a key held by a process of this host that is gone is taken over at once', async () => {
    const request = { method: 'POST', url: '/names', body: { name: 'a' } };
    await idempotency.reserve(recordKey('gone'), {
      fingerprint: requestFingerprint(request),
      state: 'pending',
      stream: STREAM,
      createdAt: clock,
      owner: `${hostname()}:${deadPid()}:a-killed-attempt`,
    });
    const answer = await executeWrite(deps, command('a', { idempotencyKey: 'gone', request }));
    expect(answer.status).toBe(201);
    expect(await names()).toEqual(['a']);
  });

  test('a key whose holder stopped renewing refuses with the seconds left on its lease', async () => {
    const request = { method: 'POST', url: '/names', body: { name: 'a' } };
    await idempotency.reserve(recordKey('silent'), {
      fingerprint: requestFingerprint(request),
      state: 'pending',
      stream: STREAM,
      createdAt: clock - 6_000,
      owner: 'another-host:1:silent-attempt',
    });
    const refused = executeWrite(deps, command('a', { idempotencyKey: 'silent', request }));
    await expect(refused).rejects.toMatchObject({
      failure: {
        kind: 'idempotency_key_in_flight',
        retryAfterSeconds: Math.ceil((PENDING_LEASE_MS - 6_000) / 1000),
      },
    });
    clock += PENDING_LEASE_MS - 6_000;
    expect((await executeWrite(deps, command('a', { idempotencyKey: 'silent', request }))).status).toBe(201);
  });

  test('a running request renews its lease: past the lease it still holds its key, then answers', async () => {
    const { gatedDeps, open } = withFirstAppendHeld();
    const first = executeWrite(gatedDeps, command('a', { idempotencyKey: 'long' }));
    clock += PENDING_LEASE_MS - 1_000;
    await new Promise((resolve) => setTimeout(resolve, PENDING_RENEW_MS + 300));
    clock += 5_000;
    // Created longer ago than the lease, but renewed 5 s ago: it keeps its key until its lease ends.
    await expect(executeWrite(gatedDeps, command('a', { idempotencyKey: 'long' }))).rejects.toMatchObject({
      failure: { kind: 'idempotency_key_in_flight', retryAfterSeconds: 5 },
    });
    open();
    const answer = await first;
    expect(await executeWrite(gatedDeps, command('a', { idempotencyKey: 'long' }))).toEqual({
      ...answer,
      replayed: true,
    });
    expect(await names()).toEqual(['a']);
  });
});
